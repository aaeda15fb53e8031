"""The RPC envelope: parse, verify the signature (recover the caller id), check msgtype,
dispatch, and encode the reply or the real server's error shape."""

from __future__ import annotations

import base64
import binascii
import json
import logging
from typing import Any

from hpcq import __version__
from hpcq.colonyos.signing import SignatureError, recover_id
from hpcq.server.context import Ctx
from hpcq.server.handlers import HANDLERS, assign
from hpcq.server.wire import RPCError, bad, forbidden

log = logging.getLogger("hpcq.server")
UNSIGNED = {"versionmsg", "getserverinfomsg"}


def encode_reply(payloadtype: str, payload: Any, error: bool = False) -> bytes:
    body = base64.b64encode(json.dumps(payload).encode()).decode()
    return json.dumps({"payloadtype": payloadtype, "payload": body, "error": error}).encode()


def error_reply(exc: RPCError) -> tuple[int, bytes]:
    return exc.status, encode_reply("error", {"status": exc.status, "message": exc.message}, True)


def _json_object(data: bytes, failed: str, not_json: str, shape: str) -> dict:
    """``data`` as a JSON object, or RPCError(400) "<failed>: <not_json> (why)" / "<failed>: expected <shape>"."""
    try:
        obj = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad(f"{failed}: {not_json} ({exc})") from None
    if not isinstance(obj, dict):
        raise bad(f"{failed}: expected {shape}")
    return obj


def parse_envelope(body: bytes) -> tuple[str, str, str, dict]:
    """-> (payloadtype, payload base64, signature, decoded message), or RPCError(400)."""
    shape = "a JSON object with payloadtype, payload and signature"
    env = _json_object(body, "failed to parse RPC message", "body is not JSON", shape)
    ptype, payload, sig = env.get("payloadtype"), env.get("payload"), env.get("signature", "")
    if not isinstance(ptype, str) or not ptype:
        raise bad("failed to parse RPC message: field 'payloadtype' (string) is required")
    if not isinstance(payload, str):
        raise bad("failed to parse RPC message: field 'payload' (base64 string) is required")
    if not isinstance(sig, str):
        raise bad("failed to parse RPC message: field 'signature' must be a hex string")
    try:
        raw = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise bad("failed to decode payload: 'payload' is not valid base64") from None
    return ptype, payload, sig, _json_object(raw, "failed to parse payload", "not JSON", "a JSON object")


def handle(ctx: Ctx, body: bytes) -> tuple[int, bytes]:
    """One POST /api request -> (HTTP status, reply body). Never raises."""
    try:
        ptype, payload, sig, msg = parse_envelope(body)
        if ptype in UNSIGNED:
            return 200, encode_reply(
                ptype,
                {"buildversion": f"hpcq-{__version__}", "buildtime": "", "colonies": "v1.9.7", "cancel": "v1.9.12"},
            )
        if ptype != "assignprocessmsg" and ptype not in HANDLERS:
            raise forbidden(f"invalid rpcMsg.PayloadType: {ptype}")
        try:
            caller = recover_id(payload, sig)
        except SignatureError as exc:
            raise forbidden(str(exc)) from None
        if msg.get("msgtype") != ptype:
            raise bad(
                f"failed to parse msg: msg.MsgType ({msg.get('msgtype')!r}) does not match payloadType ({ptype!r})"
            )
        store = ctx.store
        if ptype == "assignprocessmsg":
            with store.lock:
                result: dict | list | None = assign.assign(ctx, caller, msg, store.cond.wait)
        else:
            with store.lock:
                if ctx.closing:  # checked under the lock: the DB may be closed already
                    raise RPCError(503, "server is shutting down")
                with store.tx():
                    result = HANDLERS[ptype](ctx, caller, msg)
        return 200, encode_reply(ptype, result)
    except RPCError as exc:
        return error_reply(exc)
    except Exception as exc:  # a bug must not kill the server; the transaction was rolled back
        log.exception("internal error while handling a request")
        return error_reply(RPCError(500, f"internal server error: {type(exc).__name__}: {exc}"))
