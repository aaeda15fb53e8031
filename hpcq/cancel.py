"""Server-side cancellation (colonies v1.9.12 ``cancelprocessmsg`` / ``cancelprocessgraphmsg``).

pycolonies 1.0.25 has no cancel call, so these messages go through pycolonies' own signed RPC
(the same envelope, signer, URL and TLS setting as every other call). Whether a server has them
is *detected*, never configured: a v1.9.7 server refuses an unknown payload type with
"invalid rpcMsg.PayloadType", a v1.9.12 (or hpcq) server answers about the process instead.
"""

from __future__ import annotations

from typing import Any

UNKNOWN_TYPE = "invalid rpcMsg.PayloadType"
_PROBE_ID = "0" * 64  # no process has this id: the probe changes nothing
_supported: dict[str, bool] = {}


def rpc(client: Any, msg: dict, prvkey: str) -> Any:
    """Send one message signed exactly as pycolonies signs its own (its private ``__rpc``)."""
    return client._Colonies__rpc(msg, prvkey)


def supports_cancel(client: Any, prvkey: str) -> bool:
    """True when the server knows cancelprocessmsg (cached per server URL)."""
    url = client.url
    if url not in _supported:
        try:
            rpc(client, {"msgtype": "cancelprocessmsg", "processid": _PROBE_ID}, prvkey)
            _supported[url] = True
        except Exception as exc:  # noqa: BLE001 - pycolonies raises one type; read the text
            text = str(exc)
            if UNKNOWN_TYPE in text:
                _supported[url] = False
            elif "not found" in text.lower() or "is nil" in text.lower():
                _supported[url] = True
            else:
                raise  # unreachable, refused for another reason: do not guess
    return _supported[url]


def cancel_process(client: Any, processid: str, prvkey: str) -> None:
    """WAITING/RUNNING -> CANCELLED; its executor stops the work. Not for workflow members."""
    rpc(client, {"msgtype": "cancelprocessmsg", "processid": processid}, prvkey)


def cancel_processgraph(client: Any, processgraphid: str, prvkey: str) -> None:
    """Cancel every WAITING/RUNNING process of the workflow, then the workflow itself."""
    rpc(client, {"msgtype": "cancelprocessgraphmsg", "processgraphid": processgraphid}, prvkey)
