"""The HTTP side: a threaded server for POST /api, GET /health and GET /pubsub (wait()), the 1 s timeout sweep and
the stale-executor cleanup, and clean shutdown on SIGTERM/SIGINT.

Connections are persistent (HTTP/1.1 keep-alive, every reply with Content-Length): a connection
idle for ``idle_timeout_s`` between requests is closed, one whose request body was not read
(404, a refused body) is closed after the reply and after draining what the client still sends
(so that an upload in progress does not cost the client its reply), and at shutdown every open
connection's read side is shut so that no handler thread keeps serving a stopped server.

TLS (``--tls-cert``): the handshake runs in the connection's thread; plain HTTP sent to the TLS
port gets a 400 that says how to turn TLS on in the client, not a closed connection."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import ssl
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from wsproto.utilities import generate_accept_token

from hpcq.atomicfile import write_atomic
from hpcq.colonyos import SERVER_IDLE_TIMEOUT_S
from hpcq.config import ConfigError, ServerSettings
from hpcq.server import api, pubsub, timeouts
from hpcq.server.context import INFO_NAME, SWEEP_INTERVAL_S, Ctx, open_ctx
from hpcq.server.handlers import channels, crons
from hpcq.server.wire import RPCError

log = logging.getLogger("hpcq.server")

MAX_BODY = 16 * 1024 * 1024  # bytes; larger bodies (and websocket messages) get 413/400 in the error shape
REPLY_BUFFER = 64 * 1024  # a reply's headers and body up to this size leave in one write
# After a reply that leaves the request body unread, read and drop what the client still sends (up
# to this much, this long) before closing: a close with unread input resets the connection, and a
# client still uploading loses the reply (TLS: its write fails with SSLEOFError; plain TCP: the
# reset can drop the reply). Apache's "lingering close"; Go's net/http reads up to 256 KiB.
LINGER_BYTES = 4 * MAX_BODY
LINGER_S = 5.0
TLS_HANDSHAKE = 0x16  # the first byte of a TLS record that opens a handshake (ClientHello)
PLAIN_HTTP_ON_TLS = (
    "this server speaks HTTPS (TLS) and the client sent plain HTTP. Fix: set COLONIES_SERVER_TLS=true "
    "(pycolonies: Colonies(host, port, tls=True)) and trust the server's certificate with REQUESTS_CA_BUNDLE"
)


class Handler(BaseHTTPRequestHandler):
    """One client connection (a thread). ``make_handler`` binds the context and the limits."""

    protocol_version = "HTTP/1.1"
    server_version = "hpcq-colonies"
    timeout = 300  # socket reads/writes within a request (not long-polls): reaps stalled clients
    # Buffered replies: headers and body are one write (one syscall, one TCP segment with
    # TCP_NODELAY); http.server flushes after each request, the websocket after each frame.
    wbufsize = REPLY_BUFFER
    server: Server
    ctx: Ctx
    max_body: int = MAX_BODY
    idle_timeout: float = SERVER_IDLE_TIMEOUT_S  # waiting for the next request on a kept-alive connection

    def setup(self) -> None:
        super().setup()
        # one small reply per request: do not let Nagle hold the body back for an ACK
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection)
        if log.isEnabledFor(logging.DEBUG):  # the connection log (-v): one line per TCP connection
            log.debug("connection from %s:%s", *self.client_address[:2])
        self.body_left = False  # the current request's body was not read (see _drain)
        self.tls_ready = not isinstance(self.connection, ssl.SSLSocket) or self._tls_accept()

    def handle(self) -> None:
        if self.tls_ready:
            super().handle()

    def _tls_accept(self) -> bool:
        """TLS: the handshake, here in the connection's own thread. A client that sends plain HTTP
        gets a plain-HTTP 400 that says so (Go's and nginx's servers answer it too; a bare close
        reads as ``RemoteDisconnected`` to the client). A failed handshake (an untrusted
        certificate, a scanner) is a debug line, not a traceback."""
        conn = self.connection
        conn.settimeout(self.idle_timeout)
        try:
            first = socket.socket.recv(conn, 1, socket.MSG_PEEK)  # the TCP bytes, not TLS records
            if first and first[0] != TLS_HANDSHAKE:
                self._refuse_plain_http(conn)
                return False
            conn.do_handshake()
        except OSError as exc:  # ssl.SSLError included
            log.debug("TLS handshake with %s failed: %s", self.client_address[0], exc)
            return False
        return True

    def _refuse_plain_http(self, conn: socket.socket) -> None:
        """The 400 in colonies' error shape, written and drained on the raw TCP socket."""
        status, body = api.error_reply(RPCError(400, PLAIN_HTTP_ON_TLS))
        head = (
            f"HTTP/1.1 {status} Bad Request\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        socket.socket.sendall(conn, head.encode() + body)
        _drain(lambda n: socket.socket.recv(conn, n), conn)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.untrack(self.connection)

    def handle_one_request(self) -> None:
        self.connection.settimeout(self.idle_timeout)  # idle until the request line arrives
        super().handle_one_request()  # flushes the reply
        if self.body_left:
            self.close_connection = True
            _drain(self.rfile.read1, self.connection)

    def handle_expect_100(self) -> bool:
        """Send "100 Continue" now: the buffered wfile would hold it until the final reply, and
        the client (curl) would wait a second before it sends the body."""
        ok = super().handle_expect_100()
        self.wfile.flush()
        return ok

    def parse_request(self) -> bool:
        self.connection.settimeout(self.timeout)  # a request has begun: its reads get the long limit
        return super().parse_request()

    def log_message(self, format: str, *args) -> None:  # never the payload, only the request line
        if log.isEnabledFor(logging.DEBUG):  # formatted only when someone reads it
            log.debug("%s - %s", self.address_string(), format % args)

    def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:  # say so: the client must not send another request on it
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def _unread_body(self) -> bool:
        """The request has a body this handler will not read: the connection cannot carry
        another request after the reply (its bytes would be parsed as one)."""
        return bool(self.headers.get("Transfer-Encoding")) or (self.headers.get("Content-Length") or "0") != "0"

    def do_GET(self) -> None:
        if self._unread_body():
            self.close_connection = self.body_left = True
        route = self.path.split("?")[0]
        if route == "/health":
            self._send(200, b"", "text/plain")
        elif route == "/pubsub" and self.headers.get("Upgrade", "").lower() == "websocket":
            self._websocket()
        else:
            self._send(404, b"404 page not found", "text/plain")

    def _websocket(self) -> None:
        """The upgrade handshake (RFC 6455 §4.2.2), then one subscription (hpcq.server.pubsub)."""
        key = self.headers.get("Sec-WebSocket-Key", "")
        self.close_connection = True
        if not key:
            self._send(400, b"missing Sec-WebSocket-Key", "text/plain")
            return
        self.send_response(101, "Switching Protocols")
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", generate_accept_token(key.encode()).decode())
        self.end_headers()
        self.wfile.flush()
        pubsub.run(self.ctx, pubsub.WebSocket(self.connection, self.rfile, self.wfile, self.max_body))

    def do_POST(self) -> None:
        if self.path.split("?")[0] != "/api":
            self.body_left = self._unread_body()
            self.close_connection = self.body_left or self.close_connection
            self._send(404, b"404 page not found", "text/plain")
            return
        try:
            length = self._body_length()
        except RPCError as exc:
            self.close_connection = self.body_left = True  # the body stays unread
            self._send(*api.error_reply(exc))
            return
        self._send(*api.handle(self.ctx, self.rfile.read(length)))

    def _body_length(self) -> int:
        """The request's Content-Length, or RPCError: chunked (411), invalid (400), too large (413)."""
        if self.headers.get("Transfer-Encoding"):
            raise RPCError(411, "chunked request bodies are not supported: send Content-Length")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            raise RPCError(400, "invalid Content-Length")
        if length > self.max_body:
            raise RPCError(413, f"request body of {length} bytes exceeds the limit of {self.max_body} bytes")
        return length


def _drain(read: Callable[[int], bytes], conn: socket.socket) -> None:
    """The lingering close: read and drop input until EOF, LINGER_BYTES or LINGER_S."""
    left, deadline = LINGER_BYTES, time.monotonic() + LINGER_S
    with contextlib.suppress(OSError, ValueError):
        while left > 0 and (wait := deadline - time.monotonic()) > 0:
            conn.settimeout(wait)
            chunk = read(min(left, REPLY_BUFFER))
            if not chunk:
                return
            left -= len(chunk)


def make_handler(ctx: Ctx, max_body: int = MAX_BODY, idle_timeout_s: float = SERVER_IDLE_TIMEOUT_S) -> type[Handler]:
    """The handler class serving ``ctx`` with these limits."""
    return type("BoundHandler", (Handler,), {"ctx": ctx, "max_body": max_body, "idle_timeout": idle_timeout_s})


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, *args, **kwargs):
        self._conns: set[socket.socket] = set()  # open client connections (kept alive between requests)
        self._conns_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def track(self, conn: socket.socket) -> None:
        with self._conns_lock:
            self._conns.add(conn)

    def untrack(self, conn: socket.socket) -> None:
        with self._conns_lock:
            self._conns.discard(conn)

    def shut_connections(self) -> None:
        """Shut the read side of every open connection: a handler waiting for a next request
        gets EOF and ends; one still in a request can write its reply, then ends."""
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                socket.socket.shutdown(conn, socket.SHUT_RD)  # the plain socket's (TLS: no close_notify)


def close_server(httpd: Server, ctx: Ctx) -> None:
    """Stop the server after serve_forever returned: close the listening socket and every kept-alive
    connection, wake the long polls (assign, wait) so their threads end, close the store."""
    httpd.server_close()
    httpd.shut_connections()
    with ctx.store.cond:
        ctx.closing = True
        ctx.store.cond.notify_all()
    ctx.store.close()


def _tls_context(cert: Path, key: Path | None) -> ssl.SSLContext:
    """For HTTPS/WSS with this PEM certificate (chain) and key."""
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        tls.load_cert_chain(str(cert), str(key) if key else None)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"TLS certificate {cert} / key {key}: {exc}. Fix: give a readable PEM pair") from None
    return tls


def _loop(stop: threading.Event, interval: float, fn: Callable[[], None], name: str) -> None:
    while not stop.wait(interval):
        try:
            fn()
        except Exception:
            log.exception("%s failed", name)


def _start_sweeps(ctx: Ctx, stop: threading.Event) -> None:
    """The two worker threads: the 1 s sweep (timeouts, crons, generators, closed channels) and
    the stale-executor cleanup."""

    def sweep() -> None:
        with ctx.store.lock, ctx.store.tx():
            timeouts.sweep(ctx)
            crons.tick(ctx)
            channels.drop_closed(ctx)

    def cleanup() -> None:
        with ctx.store.lock, ctx.store.tx():
            n = timeouts.cleanup_stale_executors(ctx)
        if n:
            log.info("removed %d stale executor(s)", n)

    for interval, fn, name in (
        (SWEEP_INTERVAL_S, sweep, "timeout sweep"),
        (ctx.settings.cleanup_interval_s, cleanup, "stale-executor cleanup"),
    ):
        threading.Thread(target=_loop, args=(stop, interval, fn, name), daemon=True).start()


def _on_signals(httpd: Server) -> None:
    """SIGTERM/SIGINT stop serve_forever (from another thread: shutdown() waits for it)."""

    def on_signal(signum, _frame):
        log.info("signal %d: shutting down", signum)
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)


def _write_info(path: Path, httpd: Server, ctx: Ctx, scheme: str) -> str:
    """<data_dir>/server.json: where the server listens (how port 0 is discovered). Returns the base URL."""
    host, port = str(httpd.server_address[0]), int(httpd.server_address[1])
    base = f"{scheme}://{host}:{port}"
    info = {"host": host, "port": port, "pid": os.getpid(), "url": f"{base}/api", "serverid": ctx.server_id}
    write_atomic(path, json.dumps({**info, "started": time.time()}))
    return base


def _remove_info(path: Path) -> None:
    """Remove server.json if this process wrote it."""
    with contextlib.suppress(OSError, ValueError):
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()


def serve(settings: ServerSettings, ready: Callable[[Server], None] | None = None) -> None:
    """Run until SIGTERM/SIGINT on ``settings.host``/``port`` (both resolved: hpcq.server.cli).
    Writes <data_dir>/server.json (host, port, pid) once bound."""
    if settings.host is None or settings.port is None:
        raise ValueError("serve() needs settings with host and port set")
    tls = _tls_context(settings.tls_cert, settings.tls_key) if settings.tls_cert else None
    ctx = open_ctx(settings)
    httpd = Server((settings.host, settings.port), make_handler(ctx))
    if tls is not None:  # handshakes in the connections' own threads, not in the accept loop
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True, do_handshake_on_connect=False)
    stop = threading.Event()
    _start_sweeps(ctx, stop)
    _on_signals(httpd)
    info_path = Path(settings.data_dir) / INFO_NAME
    base = _write_info(info_path, httpd, ctx, "https" if tls else "http")
    log.info("hpcq colonies server on %s (data %s, server id %s)", base, settings.data_dir, ctx.server_id)
    if ready is not None:
        ready(httpd)
    try:
        httpd.serve_forever(poll_interval=0.2)
    finally:
        stop.set()
        close_server(httpd, ctx)
        _remove_info(info_path)
        log.info("stopped")
