"""`GET /pubsub`: the WebSocket that pycolonies' ``wait()`` (subscribeprocessmsg) and
``subscribe_channel()`` (subscribechannelmsg) use.

A minimal RFC 6455 server side (one text frame in, reply frames out, then close) is enough
for that client, so no WebSocket dependency. As on the real server: ``wait()`` gets an envelope
with the process once it reaches the requested state (at once if it already has), and on
timeout the socket is simply closed, so ``wait()`` raises; ``subscribe_channel()`` gets one frame
per batch of channel entries, then "[]" when it times out."""

from __future__ import annotations

import base64
import hashlib
import struct
import time

from hpcq.colonyos.signing import SignatureError, recover_id
from hpcq.server import api
from hpcq.server.auth import Ctx, require_member
from hpcq.server.handlers import channels, processes
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


def serve(ctx: Ctx, body: bytes, send) -> bool:
    """Handle one subscription message, sending reply frames' text with ``send(bytes)``.
    Returns whether to end with a close frame (not after a process wait timed out: the real
    server just drops the socket there, which is what makes ``wait()`` raise)."""
    ptype, payload, sig, msg = api.parse_envelope(body)
    if ptype not in ("subscribeprocessmsg", "subscribechannelmsg"):
        raise forbidden(
            f"invalid rpcMsg.PayloadType for /pubsub: {ptype} (only "
            "subscribeprocessmsg and subscribechannelmsg are supported)"
        )
    try:
        caller = recover_id(payload, sig)
    except SignatureError as exc:
        raise forbidden(str(exc)) from None
    if msg.get("msgtype") != ptype:
        raise bad("failed to parse msg: msg.MsgType does not match payloadType")
    if ptype == "subscribechannelmsg":
        _channel(ctx, caller, msg, send)
        return True
    reply = _process(ctx, caller, ptype, msg)
    if reply is None:
        return False
    send(reply)
    return True


def _process(ctx: Ctx, caller: str, ptype: str, msg: dict) -> bytes | None:
    """The process once it reaches the state (at once if it has), or None on timeout."""
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


def _channel(ctx: Ctx, caller: str, msg: dict, send) -> None:
    """Entries after ``afterseq`` at once, then each new one as it is appended; "[]" on timeout
    (default 30 s) or when the process finishes. Frames are sent outside the store lock."""
    timeout = field(msg, "timeout", int, 0) or 30
    index = field(msg, "afterseq", int, 0)
    deadline = time.monotonic() + timeout
    ptype = "subscribechannelmsg"
    store = ctx.store
    opened = False
    while True:
        with store.lock:
            if ctx.closing:
                return
            try:
                _, log = channels.open_channel(ctx, caller, msg, "subscribe to")
                opened = True
            except RPCError:
                if not opened:
                    raise  # never opened: the error goes to the client
                log = None  # the process finished while streaming: end like a timeout
            fresh = channels.read_after(log, index) if log is not None else []
            if log is not None and not fresh:
                remaining = deadline - time.monotonic()
                if remaining > 0:
                    store.cond.wait(min(remaining, 1.0))
                    continue
        if fresh:
            index += len(fresh)
            send(api.encode_reply(ptype, fresh))
            continue
        send(api.encode_reply(ptype, []))
        return
