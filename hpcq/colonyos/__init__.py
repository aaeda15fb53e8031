"""Facts of the ColonyOS protocol that every side of hpcq shares (server, executor, client, tests).

One place for each: the process, executor and attribute numbers as colonies defines them, the
messages pycolonies turns into exceptions and how hpcq classifies them, and the one way hpcq
builds a client (:func:`connect`). pycolonies raises one exception type for everything, so the
classification reads the message text; keep every such string here.

The package's modules: :mod:`hpcq.colonyos.signing` (secp256k1 identities: the server recovers
them, the clients sign with them) and :mod:`hpcq.colonyos.rpc` (the one seam to pycolonies: its
``Colonies`` with hpcq's signer, keep-alive connections and the messages pycolonies lacks). This
module imports neither pycolonies nor requests, so the server can read its constants cheaply.
"""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hpcq.colonyos.rpc import Colonies
    from hpcq.config import Settings


class ProcessState(IntEnum):
    """colonies' process (and process-graph) states, as its Go constants number them."""

    NOTSET = -1  # "any state" in list/count requests
    WAITING = 0
    RUNNING = 1
    SUCCESS = 2
    FAILED = 3
    CANCELLED = 4  # added in colonies v1.9.12 (cancelprocessmsg); v1.9.7 servers never report it

    @property
    def final(self) -> bool:
        return self in (ProcessState.SUCCESS, ProcessState.FAILED, ProcessState.CANCELLED)

    @property
    def label(self) -> str:
        return self.name.lower()


class ExecutorState(IntEnum):
    """An executor's registration state (colonies' core.PENDING...): only APPROVED ones are assigned work."""

    PENDING = 0
    APPROVED = 1
    REJECTED = 2
    UNREGISTERED = 3


class AttributeType(IntEnum):
    """A process attribute's kind (colonies' core.IN...): hpcq's executor adds OUT attributes."""

    IN = 0
    OUT = 1
    ERR = 2
    ENV = 3


# --- how hpcq reads pycolonies' exceptions ----------------------------------------------------
# The server's answer to an assign long-poll that found nothing (HTTP 404 body message).
NO_PROCESS = "No process available for assignment"

# Text of a pycolonies exception when the server could not be reached at all.
UNREACHABLE_MARKERS = (
    "Connection refused",
    "Max retries exceeded",
    "Failed to establish",
    "Connection aborted",
    "Remote end closed",
)

# The server looked the object up and found nothing: hpcq's server and colonies say "not found"
# or "does not exist"; colonies' handlers that dereference the lookup say "... is nil".
NOT_FOUND_MARKERS = ("not found", "does not exist")
NIL_MARKER = "is nil"

# A server that does not know a message type (a colonies v1.9.7 server asked to cancel).
UNKNOWN_TYPE = "invalid rpcMsg.PayloadType"

# The caller's key is not an approved member of the colony (HTTP 403). colonies v1.9.12 answers
# "Access denied, not a member of Colony with name <C>" for a key it does not know *and* for an
# executor that is pending, rejected or removed (its validator falls back to the user check); hpcq's
# embedded server says "not member of colony" or "executor is not approved".
NOT_MEMBER_MARKERS = ("not a member", "not member", "not approved")
# addexecutormsg for a name the colony already has (a server that refuses re-registration).
NAME_TAKEN_MARKER = "already exists"


def is_no_process(exc: BaseException) -> bool:
    """An empty assign poll (not an error)."""
    return NO_PROCESS in str(exc)


def is_unreachable(exc: BaseException) -> bool:
    """The server did not answer (down, wrong host/port): worth waiting for, not a refusal."""
    text = str(exc)
    return any(m in text for m in UNREACHABLE_MARKERS)


def is_not_found(exc: BaseException) -> bool:
    """The server answered that the process (or graph) does not exist (removed, or never was)."""
    text = str(exc).lower()
    return any(m in text for m in NOT_FOUND_MARKERS)


def is_missing(exc: BaseException) -> bool:
    """:func:`is_not_found`, or colonies' "... is nil" for a lookup that found nothing."""
    return is_not_found(exc) or NIL_MARKER in str(exc).lower()


def is_not_member(exc: BaseException) -> bool:
    """The server refused the caller's key as a colony member: an executor that was never added, is
    still pending approval, or was removed (by the colony owner, or as stale by the server)."""
    text = str(exc).lower()
    return any(m in text for m in NOT_MEMBER_MARKERS)


def is_name_taken(exc: BaseException) -> bool:
    """addexecutormsg refused: an executor of that name is already registered in the colony."""
    return NAME_TAKEN_MARKER in str(exc).lower()


def is_unknown_message(exc: BaseException) -> bool:
    """The server refused the message type itself: it does not implement that message."""
    return UNKNOWN_TYPE in str(exc)


def file_label(colony: str, process_id: str) -> str:
    """The ColonyFS label under which a process's result files are registered (hpcq's convention)."""
    return f"/hpcq/{colony}/{process_id}"


# --- keep-alive HTTP: how long an idle connection lives on each side ---------------------------
# The embedded server closes a keep-alive connection that has been idle this long (hpcq.server.httpd),
# so that a connection whose client went away does not hold a server thread for ever.
SERVER_IDLE_TIMEOUT_S = 30.0
# hpcq's clients reuse a pooled connection only if it has been idle for less than this: well below
# the server's limit (and the 60 s of common proxies), so a request is never sent on a connection
# the server is closing at that moment; an older one is closed and a new one opened.
CLIENT_REUSE_IDLE_S = 10.0

# Messages that change nothing on the server: the only ones hpcq's client sends a second time
# when the connection broke before the reply (a resent submit or assign could duplicate work).
_RESEND_SAFE = frozenset({"versionmsg", "getserverinfomsg", "channelreadmsg"})


def safe_to_resend(msgtype: str) -> bool:
    """A read-only message (every ``get...msg``, version, channel read): resending it is harmless."""
    return msgtype.startswith("get") or msgtype in _RESEND_SAFE


# --- the one way hpcq builds a client --------------------------------------------------------
def client(host: str, port: int, tls: bool = False) -> Colonies:
    """hpcq's pycolonies client for this server (:class:`hpcq.colonyos.rpc.Colonies`)."""
    from hpcq.colonyos.rpc import Colonies

    return Colonies(host, int(port), tls=tls)


def connect(settings: Settings) -> Colonies:
    """The client for these settings' server (host, port, TLS): every hpcq path that talks to a
    server builds its client here; the caller passes its keys per call, as pycolonies wants."""
    return client(settings.host, settings.port, tls=settings.tls)


def executor_name(client: Any, colony: str, prvkey: str, executor_id: str) -> str:
    """The name of the executor with ``executor_id`` in ``colony`` ('' if none): what a process spec's
    ``conditions.executornames`` pins to, so that a call meant for one executor's job (a session's
    calls, an ``hpcq_cancel`` control process) is not taken by another executor of the same type."""
    if not executor_id:
        return ""
    for ex in client.list_executors(colony, prvkey) or []:
        if ex.get("executorid") == executor_id:
            return str(ex.get("executorname", ""))
    return ""
