"""Facts of the ColonyOS protocol that every side of hpcq shares (server, executor, client, tests).

One place for each: the process states as colonies numbers them, the messages pycolonies turns
into exceptions, and how hpcq classifies those exceptions. pycolonies raises one exception type
for everything, so the classification reads the message text; keep every such string here.
And the one builder of hpcq's pycolonies clients (:func:`client`, libsecp256k1 signing).
"""

from __future__ import annotations

import functools
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


# --- the one way hpcq builds a pycolonies client ---------------------------------------------
@functools.cache
def _fast_colonies_class() -> type:
    """pycolonies' ``Colonies`` with every method that signs rebound to sign with libsecp256k1.

    The methods are pycolonies' own code objects (not copies of their source), run with a globals
    mapping where the name ``Crypto`` is :class:`hpcq.server.signing.FastCrypto` and every other
    name is looked up in pycolonies' module as it is now: requests, envelopes, errors and TLS
    behave exactly as in pycolonies; only the signer differs, and it makes the same bytes.
    """
    import pycolonies

    from hpcq.server.signing import FastCrypto

    module = vars(pycolonies)

    class _Globals(dict):
        def __missing__(self, name):
            return module[name]  # KeyError -> builtins, as for any module

    scope = _Globals(Crypto=FastCrypto, __builtins__=module["__builtins__"], __name__=module["__name__"])
    rebound = {}
    for name, fn in vars(pycolonies.Colonies).items():
        if isinstance(fn, types.FunctionType) and "Crypto" in fn.__code__.co_names:
            new = types.FunctionType(fn.__code__, scope, fn.__name__, fn.__defaults__, fn.__closure__)
            new.__kwdefaults__, new.__qualname__, new.__doc__ = fn.__kwdefaults__, fn.__qualname__, fn.__doc__
            rebound[name] = new
    if "_Colonies__rpc" not in rebound:  # pycolonies changed how it signs: do not guess
        raise RuntimeError(
            f"pycolonies {getattr(pycolonies, '__version__', '')} has no Colonies.__rpc that signs with Crypto; "
            "hpcq.colonyos.client() needs updating for this pycolonies version"
        )
    return type("FastColonies", (pycolonies.Colonies,), {"__doc__": _fast_colonies_class.__doc__, **rebound})


def client(host: str, port: int, tls: bool = False):
    """A pycolonies ``Colonies`` client (a subclass) whose signatures come from libsecp256k1.

    Every hpcq path that talks to a server builds its client here (hpcq.config.Settings.client).
    Signatures are byte-identical to pycolonies' pure-Python ones (tests/server/test_signing.py),
    about 4 ms -> 0.1 ms per request; the requests, replies and errors are pycolonies' own.
    """
    return _fast_colonies_class()(host, int(port), tls=tls)
