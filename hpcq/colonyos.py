"""Facts of the ColonyOS protocol that every side of hpcq shares (server, executor, client, tests).

One place for each: the process states as colonies numbers them, the messages pycolonies turns
into exceptions, and how hpcq classifies those exceptions. pycolonies raises one exception type
for everything, so the classification reads the message text; keep every such string here.
And the one builder of hpcq's pycolonies clients (:func:`client`: libsecp256k1 signing and
keep-alive HTTP connections).
"""

from __future__ import annotations

import functools
import json
import os
import threading
import time
import types
from enum import IntEnum


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
    return "not found" in text or "does not exist" in text


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


class KeepAliveRequests:
    """What the name ``requests`` is for hpcq's clients' pycolonies code: the requests module,
    except that ``post`` goes through one ``requests.Session`` per process and thread.

    pycolonies calls ``requests.post`` for every RPC: a new session, a new TCP connection (a TLS
    handshake over HTTPS) and a new server thread per request. The session keeps the connection
    open. It is requests' own, with requests' defaults: ``trust_env`` (proxies, ``NO_PROXY``,
    ``REQUESTS_CA_BUNDLE``, netrc) and ``verify`` as pycolonies passes it, so TLS is checked as
    before. Per thread (``threading.local``): a connection carries one request at a time. Per
    process (``os.getpid()``): a forked child makes its own session and never writes to the
    socket its parent is using.

    A pooled connection the server has closed (restart, idle timeout) is noticed by urllib3 before
    the request is sent (``is_connection_dropped``) and replaced, so that request goes out once, on
    a new connection. One idle for :data:`CLIENT_REUSE_IDLE_S` or more is not reused at all. If
    the connection breaks after the request was sent (no reply), the request is sent again, once,
    only when :func:`safe_to_resend`; otherwise the error is pycolonies' as before.
    """

    def __init__(self):
        import requests

        self._requests = requests
        self._local = threading.local()

    def __getattr__(self, name):
        return getattr(self._requests, name)

    def session(self):
        """This process's and thread's session (new after a fork; idle connections dropped)."""
        local = self._local
        pid = os.getpid()
        if getattr(local, "pid", None) != pid:
            # a parent's session (inherited by fork) is left alone: closing its sockets here
            # would not touch the parent's, but using them would
            local.session, local.pid, local.used = self._requests.Session(), pid, time.monotonic()
        elif time.monotonic() - local.used >= CLIENT_REUSE_IDLE_S:
            local.session.close()  # its pooled connections; the session makes new ones
        return local.session

    def post(self, url, data=None, **kwargs):
        session = self.session()
        try:
            return session.post(url, data=data, **kwargs)
        except self._requests.ConnectionError as exc:
            if not (_broken_after_send(exc) and safe_to_resend(_msgtype(data))):
                raise
            return session.post(url, data=data, **kwargs)  # once, on a new connection
        finally:
            self._local.used = time.monotonic()


def _broken_after_send(exc: BaseException) -> bool:
    """requests' ConnectionError for a connection that broke during the exchange (urllib3
    ProtocolError: reset, closed without a reply), not one that could not be opened."""
    from urllib3.exceptions import ProtocolError

    return bool(exc.args) and isinstance(exc.args[0], ProtocolError)


def _msgtype(data) -> str:
    try:
        return str(json.loads(data)["payloadtype"])
    except (TypeError, ValueError, KeyError):
        return ""


# --- the one way hpcq builds a pycolonies client ---------------------------------------------
@functools.cache
def _fast_colonies_class() -> type:
    """pycolonies' ``Colonies`` with every method that signs or posts rebound: libsecp256k1
    signing and keep-alive connections.

    The methods are pycolonies' own code objects (not copies of their source), run with a globals
    mapping where the name ``Crypto`` is :class:`hpcq.server.signing.FastCrypto`, ``requests`` is
    a :class:`KeepAliveRequests` (the requests module with ``post`` on a per-thread session), and
    every other name is looked up in pycolonies' module as it is now: envelopes, errors and TLS
    behave exactly as in pycolonies; the signer makes the same bytes.
    """
    import pycolonies

    from hpcq.server.signing import FastCrypto

    module = vars(pycolonies)

    class _Globals(dict):
        def __missing__(self, name):
            return module[name]  # KeyError -> builtins, as for any module

    scope = _Globals(
        Crypto=FastCrypto,
        requests=KeepAliveRequests(),
        __builtins__=module["__builtins__"],
        __name__=module["__name__"],
    )
    rebound = {}
    for name, fn in vars(pycolonies.Colonies).items():
        if isinstance(fn, types.FunctionType) and {"Crypto", "requests"} & set(fn.__code__.co_names):
            new = types.FunctionType(fn.__code__, scope, fn.__name__, fn.__defaults__, fn.__closure__)
            new.__kwdefaults__, new.__qualname__, new.__doc__ = fn.__kwdefaults__, fn.__qualname__, fn.__doc__
            rebound[name] = new
    rpc = rebound.get("_Colonies__rpc")
    if rpc is None or not {"Crypto", "requests"} <= set(rpc.__code__.co_names):
        # pycolonies changed how it signs or posts: do not guess
        raise RuntimeError(
            f"pycolonies {getattr(pycolonies, '__version__', '')} has no Colonies.__rpc that signs with Crypto "
            "and posts with requests; hpcq.colonyos.client() needs updating for this pycolonies version"
        )
    return type("FastColonies", (pycolonies.Colonies,), {"__doc__": _fast_colonies_class.__doc__, **rebound})


def client(host: str, port: int, tls: bool = False):
    """A pycolonies ``Colonies`` client (a subclass): libsecp256k1 signatures, keep-alive HTTP.

    Every hpcq path that talks to a server builds its client here (hpcq.config.Settings.client).
    Signatures are byte-identical to pycolonies' pure-Python ones (tests/server/test_signing.py),
    about 4 ms -> 0.1 ms per request; requests reuse this thread's connection to the server
    (:class:`KeepAliveRequests`, tests/server/test_keepalive.py); the requests, replies and errors
    are pycolonies' own. The websocket calls (``wait``, ``subscribe_channel``) open their own
    connection per call, as in pycolonies.
    """
    return _fast_colonies_class()(host, int(port), tls=tls)
