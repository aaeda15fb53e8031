"""The one seam between hpcq and pycolonies: ``Colonies``, pycolonies' client with hpcq's transport.

pycolonies sends every request through one private method, ``Colonies.__rpc(msg, prvkey)``
(name-mangled to ``_Colonies__rpc``): it wraps ``msg`` in the signed envelope and posts it. This
subclass overrides that method, and only that one, for two reasons:

- signing: pycolonies' pure-Python secp256k1 takes ~4 ms a request; :func:`hpcq.colonyos.signing.sign`
  makes the same bytes with libsecp256k1 in ~0.1 ms (tests/server/test_signing.py);
- keep-alive: pycolonies posts each request with ``requests.post`` (a new TCP connection, a new TLS
  handshake and a new server thread each time); :class:`KeepAlive` reuses one connection per thread.

The envelope, the reply parsing and the exceptions (``ColoniesConnectionError`` / ``ColoniesError``
with the server's message) are pycolonies 1.0.25's, line for line, so every public pycolonies
method behaves as before. The websocket calls (``wait``, ``subscribe_channel``) sign on their own
with pycolonies' signer (same bytes, slower; hpcq itself does not call them).

It also adds the messages pycolonies 1.0.25 has no call for: ``cancelprocessmsg`` and
``cancelprocessgraphmsg`` (colonies v1.9.12), and ``addfilemsg`` for a metadata-only file
reference. Nothing else in hpcq calls ``_Colonies__rpc``. tests/colonyos/test_rpc.py pins the
pycolonies version and the overridden method's signature: upgrading pycolonies fails there first.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from typing import Any

import pycolonies
import requests
from model import Conditions, FuncSpec, Gpu, Workflow  # pycolonies' top-level module
from pycolonies import ColoniesConnectionError, ColoniesError
from urllib3.exceptions import ProtocolError

from hpcq.colonyos import CLIENT_REUSE_IDLE_S, safe_to_resend
from hpcq.colonyos.signing import sign

# The pycolonies release whose __rpc this module reproduces (setup.cfg pins it; tests check both).
PYCOLONIES_VERSION = "1.0.25"


class KeepAlive:
    """Posts through one ``requests.Session`` per process and thread, so connections are reused.

    The session is requests' own, with requests' defaults: ``trust_env`` (proxies, ``NO_PROXY``,
    ``REQUESTS_CA_BUNDLE``, netrc) and ``verify=True`` as pycolonies passes it, so TLS is checked
    as before. Per thread (``threading.local``): a connection carries one request at a time. Per
    process (``os.getpid()``): a forked child makes its own session and never writes to the socket
    its parent is using.

    A pooled connection the server has closed (restart, idle timeout) is noticed by urllib3 before
    the request is sent (``is_connection_dropped``) and replaced, so that request goes out once, on
    a new connection. One idle for :data:`~hpcq.colonyos.CLIENT_REUSE_IDLE_S` or more is not
    reused at all. If the connection breaks after the request was sent (no reply), the request is
    sent again, once, only when :func:`~hpcq.colonyos.safe_to_resend`; otherwise the error stands.
    """

    def __init__(self) -> None:
        self._local = threading.local()

    def session(self) -> requests.Session:
        """This process's and thread's session (new after a fork; idle connections dropped)."""
        local = self._local
        pid = os.getpid()
        if getattr(local, "pid", None) != pid:
            # a parent's session (inherited by fork) is left alone: closing its sockets here
            # would not touch the parent's, but using them would
            local.session, local.pid, local.used = requests.Session(), pid, time.monotonic()
        elif time.monotonic() - local.used >= CLIENT_REUSE_IDLE_S:
            local.session.close()  # its pooled connections; the session makes new ones
        return local.session

    def post(self, url: str, data: str, msgtype: str) -> requests.Response:
        session = self.session()
        try:
            return session.post(url, data=data, verify=True)
        except requests.ConnectionError as exc:
            if not (_broken_after_send(exc) and safe_to_resend(msgtype)):
                raise
            return session.post(url, data=data, verify=True)  # once, on a new connection
        finally:
            self._local.used = time.monotonic()


def _broken_after_send(exc: BaseException) -> bool:
    """requests' ConnectionError for a connection that broke during the exchange (urllib3
    ProtocolError: reset, closed without a reply), not one that could not be opened."""
    return bool(exc.args) and isinstance(exc.args[0], ProtocolError)


_HTTP = KeepAlive()  # one per process: every client shares this thread's connections


class Colonies(pycolonies.Colonies):
    """pycolonies' client, signing with libsecp256k1 and posting on kept-alive connections, plus
    the cancel and file-reference messages pycolonies lacks. Build it with :func:`hpcq.colonyos.connect`."""

    def _Colonies__rpc(self, msg: dict[str, Any], prvkey: str) -> Any:
        """pycolonies 1.0.25's ``Colonies.__rpc``: the same envelope, reply and exceptions."""
        payload = base64.b64encode(json.dumps(msg).encode("utf-8")).decode("utf-8")
        envelope = json.dumps({"payloadtype": msg["msgtype"], "payload": payload, "signature": sign(payload, prvkey)})
        try:
            reply = _HTTP.post(self.url, envelope, msg["msgtype"])
            reply_msg = json.loads(reply.content)
            answer = json.loads(base64.b64decode(reply_msg["payload"]))
            if reply_msg["error"]:
                raise ColoniesConnectionError(answer["message"])
        except Exception as err:  # pycolonies wraps every failure, the server's refusals included
            raise ColoniesConnectionError(err) from err
        if reply.status_code == 200:
            return answer
        raise ColoniesError(answer["message"])

    # --- the messages pycolonies 1.0.25 has no call for ---------------------------------------
    def cancel_process(self, processid: str, prvkey: str) -> None:
        """cancelprocessmsg (colonies >= v1.9.12): WAITING/RUNNING -> CANCELLED; its executor stops
        the work. A workflow member is refused: cancel its workflow."""
        self._Colonies__rpc({"msgtype": "cancelprocessmsg", "processid": processid}, prvkey)

    def cancel_processgraph(self, processgraphid: str, prvkey: str) -> None:
        """cancelprocessgraphmsg (colonies >= v1.9.12): every WAITING/RUNNING process of the
        workflow, then the workflow itself."""
        self._Colonies__rpc({"msgtype": "cancelprocessgraphmsg", "processgraphid": processgraphid}, prvkey)

    def add_file_ref(self, file: dict[str, Any], prvkey: str) -> Any:
        """addfilemsg for a ColonyFS file whose bytes stay where they are (``ref.protocol`` "file"):
        pycolonies only registers files it uploads to S3 itself. Returns what ColonyOS stored."""
        return self._Colonies__rpc({"msgtype": "addfilemsg", "file": file}, prvkey)


# --- pycolonies' spec models with the field pycolonies 1.0.25 lacks -------------------------------
# colonies' conditions carry ``locationname`` (a process goes only to an executor registered with
# that location, case-insensitive; empty = anywhere); pycolonies' Conditions model has no such field
# and would drop it. pydantic serialises a field by its declared type, so the spec and the
# workflow are subclassed too. hpcq.client.api builds every submitted spec from these.
class LocatedConditions(Conditions):
    locationname: str = ""


class LocatedFuncSpec(FuncSpec):
    conditions: LocatedConditions


class LocatedWorkflow(Workflow):
    functionspecs: list[LocatedFuncSpec] = []


def funcspec(d: dict[str, Any]) -> LocatedFuncSpec:
    """A FuncSpec-shaped dict (hpcq.client.specs) as pycolonies' model, locationname kept."""
    cond = dict(d["conditions"])
    gpu = cond.pop("gpu", None)
    return LocatedFuncSpec(
        **{k: v for k, v in d.items() if k != "conditions"},
        conditions=LocatedConditions(**cond, gpu=Gpu(**gpu) if gpu else Gpu()),
    )
