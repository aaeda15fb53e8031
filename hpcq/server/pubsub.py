"""`GET /pubsub`: the WebSocket that pycolonies' ``wait()`` (subscribeprocessmsg) and
``subscribe_channel()`` (subscribechannelmsg) use.

Framing is wsproto's (RFC 6455: masking, fragmented messages, ping/pong, the close handshake);
the HTTP upgrade is answered by hpcq.server.httpd. One subscription per socket: one text message
in (pings before it are answered), reply frames out, then a close handshake. As on the real
server: ``wait()`` gets an envelope with the process once it reaches the requested state (at once
if it already has), and on timeout the socket is simply closed, so ``wait()`` raises;
``subscribe_channel()`` gets one frame per batch of channel entries, then "[]" when it times out.
Control frames that arrive while a subscription waits are answered when it ends."""

from __future__ import annotations

import contextlib
import io
import logging
import socket
import time

from wsproto.connection import Connection, ConnectionState, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Event, Ping, TextMessage
from wsproto.utilities import LocalProtocolError

from hpcq.colonyos.signing import SignatureError, recover_id
from hpcq.server import api, procs
from hpcq.server.auth import require_member
from hpcq.server.context import Ctx
from hpcq.server.handlers import channels
from hpcq.server.wire import RPCError, bad, field, forbidden

log = logging.getLogger("hpcq.server")
CLOSE_WAIT_S = 2.0  # after our close frame, how long to wait for the client's


class WebSocket:
    """The server side of one WebSocket on an upgraded connection: wsproto frames, this class
    moves the bytes (``rfile``/``wfile`` of the HTTP handler, ``sock`` for the close timeout)."""

    def __init__(self, sock: socket.socket, rfile: io.BufferedIOBase, wfile: io.BufferedIOBase, max_message: int):
        self._sock, self._rfile, self._wfile = sock, rfile, wfile
        self._ws = Connection(ConnectionType.SERVER)
        self._max = max_message

    def _write(self, data: bytes) -> None:
        self._wfile.write(data)
        self._wfile.flush()

    def _feed(self) -> None:
        """Hand the next bytes from the socket to wsproto; ConnectionError at EOF."""
        data = self._rfile.read1(64 * 1024)
        if not data:
            raise ConnectionError("websocket closed by the client")
        self._ws.receive_data(data)

    def _control(self, event: Event) -> None:
        """Answer a ping; answer a close (ConnectionError: the client is gone); ignore pongs."""
        if isinstance(event, Ping):
            self._write(self._ws.send(event.response()))
        elif isinstance(event, CloseConnection):
            if self._ws.state in (ConnectionState.OPEN, ConnectionState.REMOTE_CLOSING):
                self._write(self._ws.send(event.response()))  # also a protocol error's close (1002, 1007)
            raise ConnectionError(f"websocket closed by the client ({event.code})")

    def receive(self) -> bytes:
        """The next whole text message (its fragments joined; at most ``max_message`` bytes)."""
        parts: list[bytes] = []
        size = 0
        while True:
            for event in self._ws.events():
                if isinstance(event, BytesMessage):
                    raise bad("expected one text frame with a signed envelope")
                if not isinstance(event, TextMessage):
                    self._control(event)
                    continue
                parts.append(event.data.encode())
                size += len(parts[-1])
                if size > self._max:
                    raise bad(f"websocket message exceeds the limit of {self._max} bytes")
                if event.message_finished:
                    return b"".join(parts)
            self._feed()

    def send(self, text: bytes) -> None:
        """One text message (a JSON reply)."""
        self._write(self._ws.send(TextMessage(data=text.decode())))

    def close(self, code: int = 1000) -> None:
        """The close handshake: our close frame, then the client's (waited for ``CLOSE_WAIT_S``)."""
        if self._ws.state is not ConnectionState.OPEN:
            return
        self._write(self._ws.send(CloseConnection(code=code)))
        self._sock.settimeout(CLOSE_WAIT_S)
        with contextlib.suppress(ConnectionError, OSError, LocalProtocolError):
            while self._ws.state is not ConnectionState.CLOSED:
                for event in self._ws.events():
                    if isinstance(event, CloseConnection):
                        return
                self._feed()


def run(ctx: Ctx, ws: WebSocket) -> None:
    """One subscription: read the signed envelope, answer it (errors in the reply shape), close.
    A client that goes away ends it quietly."""
    with contextlib.suppress(ConnectionError, OSError, LocalProtocolError):
        if _answer(ctx, ws):
            ws.close()


def _answer(ctx: Ctx, ws: WebSocket) -> bool:
    """-> whether to close with the handshake (False: a process wait timed out, drop the socket)."""
    try:
        return serve(ctx, ws.receive(), ws.send)
    except RPCError as exc:
        ws.send(api.error_reply(exc)[1])
    except (OSError, LocalProtocolError):
        raise  # the connection is gone: nothing to tell
    except Exception as exc:  # never kill the server thread silently
        log.exception("pubsub error")
        ws.send(api.error_reply(RPCError(500, f"internal server error: {exc}"))[1])
    return True


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
        first = procs.load(ctx, msg.get("processid"))
        require_member(ctx, caller, first["spec"]["conditions"]["colonyname"])
        while True:
            if ctx.closing:
                return None
            p = store.get_process(first["processid"])
            if p is None:
                raise RPCError(404, "process was removed while waiting")
            if p["state"] == state:
                return api.encode_reply(ptype, procs.render(ctx, p))
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
