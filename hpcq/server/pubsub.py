"""`GET /pubsub`: the WebSocket that pycolonies' ``wait()`` uses (subscribeprocessmsg).

A minimal RFC 6455 server side (one text frame in, one reply frame out, then close) is enough
for that client, so no WebSocket dependency. As on the real server: the reply is an envelope
with the process once it reaches the requested state (at once if it already has), and on
timeout the socket is simply closed, so ``wait()`` raises."""

from __future__ import annotations

import base64
import hashlib
import struct
import time

from hpcq.server import api
from hpcq.server.auth import Ctx, require_member
from hpcq.server.handlers import processes
from hpcq.server.signing import SignatureError, recover_id
from hpcq.server.wire import RPCError, bad, field, forbidden

_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + _GUID).encode()).digest()).decode()


def read_frame(rfile, max_len: int) -> tuple[int, bytes]:
    """-> (opcode, unmasked payload). Client frames must be masked (RFC 6455 §5.3)."""
    head = rfile.read(2)
    if len(head) < 2:
        raise ConnectionError("connection closed")
    opcode, masked, n = head[0] & 0x0F, head[1] & 0x80, head[1] & 0x7F
    if n == 126:
        n = struct.unpack("!H", rfile.read(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", rfile.read(8))[0]
    if n > max_len:
        raise bad(f"websocket frame of {n} bytes exceeds the limit of {max_len} bytes")
    mask = rfile.read(4) if masked else b"\0\0\0\0"
    data = rfile.read(n)
    return opcode, bytes(b ^ mask[i % 4] for i, b in enumerate(data))


def frame(opcode: int, data: bytes) -> bytes:
    n = len(data)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return head + data


def close_frame(code: int = 1000) -> bytes:
    return frame(0x8, struct.pack("!H", code))


def subscribe(ctx: Ctx, body: bytes) -> bytes | None:
    """Handle one subscription message; the reply frame's text, or None to just close."""
    ptype, payload, sig, msg = api.parse_envelope(body)
    if ptype != "subscribeprocessmsg":
        raise forbidden(f"invalid rpcMsg.PayloadType for /pubsub: {ptype} (only "
                        "subscribeprocessmsg is supported)")
    try:
        caller = recover_id(payload, sig)
    except SignatureError as exc:
        raise forbidden(str(exc)) from None
    if msg.get("msgtype") != ptype:
        raise bad("failed to parse msg: msg.MsgType does not match payloadType")
    state = field(msg, "state", int, 0)
    timeout = field(msg, "timeout", int, 0)
    deadline = time.monotonic() + max(timeout, 0)
    store = ctx.store
    with store.lock:
        p = processes.load(ctx, msg.get("processid"))
        require_member(ctx, caller, p["spec"]["conditions"]["colonyname"])
        while True:
            if ctx.closing:
                return None
            p = store.get_process(p["processid"])
            if p is None:
                raise RPCError(404, "process was removed while waiting")
            if p["state"] == state:
                return api.encode_reply(ptype, processes.render(ctx, p))
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None  # timeout: the real server closes the socket
            store.cond.wait(min(remaining, 1.0))
