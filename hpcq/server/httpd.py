"""The HTTP side: a threaded server for POST /api, GET /health and GET /pubsub (wait()), the 1 s timeout sweep and
the stale-executor cleanup, the server key, and clean shutdown on SIGTERM/SIGINT.

Connections are persistent (HTTP/1.1 keep-alive, every reply with Content-Length): a connection
idle for ``idle_timeout_s`` between requests is closed, one whose request body was not read
(404, a refused body) is closed after the reply, and at shutdown every open connection's read
side is shut so that no handler thread keeps serving a stopped server."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import struct
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from hpcq.atomicfile import write_atomic
from hpcq.colonyos import SERVER_IDLE_TIMEOUT_S
from hpcq.colonyos.signing import SignatureError, id_from_prvkey, new_prvkey
from hpcq.config import write_private_file
from hpcq.server import api, pubsub, timeouts
from hpcq.server.auth import Ctx
from hpcq.server.handlers import channels, crons
from hpcq.server.store import Store
from hpcq.server.wire import RPCError

log = logging.getLogger("hpcq.server")

MAX_BODY = 16 * 1024 * 1024  # bytes; larger bodies get 413 in the error shape
DB_NAME = "colonies.db"
KEY_NAME = "server.key"
INFO_NAME = "server.json"


@dataclass
class ServerConfig:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 50080
    stale_executor_s: float = 600.0
    cleanup_interval_s: float = 60.0
    sweep_interval_s: float = 1.0
    allow_reregister: bool = True
    max_body: int = MAX_BODY
    tls_cert: Path | None = None  # PEM certificate (chain) and key: serve HTTPS and WSS
    tls_key: Path | None = None
    idle_timeout_s: float = SERVER_IDLE_TIMEOUT_S  # a keep-alive connection idle this long is closed


def server_prvkey(data_dir: Path) -> str:
    """COLONIES_SERVER_PRVKEY if set, else the key generated once into <data_dir>/server.key."""
    env = os.environ.get("COLONIES_SERVER_PRVKEY", "").strip()
    if env:
        return env
    path = Path(data_dir) / KEY_NAME
    if path.exists():
        from hpcq.config import check_private_file

        check_private_file(path)
        return path.read_text().strip()
    key = new_prvkey()
    write_private_file(path, key + "\n")
    return key


def running_pid(data_dir: Path) -> int | None:
    """pid of a live hpcq server that wrote <data_dir>/server.json, if any."""
    try:
        pid = int(json.loads((Path(data_dir) / INFO_NAME).read_text())["pid"])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return pid if pid != os.getpid() and b"hpcq" in cmdline else None


def open_ctx(cfg: ServerConfig) -> Ctx:
    data_dir = Path(cfg.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)  # specs and logs: owner only
    other = running_pid(data_dir)
    if other:
        raise SystemExit(
            f"another hpcq server (pid {other}) is serving {data_dir}; stop it first or use another --data-dir"
        )
    try:
        server_id = id_from_prvkey(server_prvkey(data_dir))
    except SignatureError as exc:
        raise SystemExit(f"COLONIES_SERVER_PRVKEY / {data_dir / KEY_NAME}: {exc}") from None
    store = Store(data_dir / DB_NAME)
    with store.lock, store.tx():
        store.meta_set("serverid", server_id)
    return Ctx(
        store=store,
        server_id=server_id,
        allow_reregister=cfg.allow_reregister,
        stale_executor_s=cfg.stale_executor_s,
        cleanup_interval_s=cfg.cleanup_interval_s,
        sweep_interval_s=cfg.sweep_interval_s,
    )


def make_handler(ctx: Ctx, max_body: int, idle_timeout_s: float = SERVER_IDLE_TIMEOUT_S):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "hpcq-colonies"
        timeout = 300  # socket reads/writes within a request (not long-polls): reaps stalled clients
        idle_timeout = idle_timeout_s  # waiting for the next request on a kept-alive connection

        def setup(self):
            super().setup()
            # one small reply per request: do not let Nagle hold the body back for an ACK
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.server.track(self.connection)
            if log.isEnabledFor(logging.DEBUG):  # the connection log (-v): one line per TCP connection
                log.debug("connection from %s:%s", *self.client_address[:2])

        def finish(self):
            try:
                super().finish()
            finally:
                self.server.untrack(self.connection)

        def handle_one_request(self):
            self.connection.settimeout(self.idle_timeout)  # idle until the request line arrives
            super().handle_one_request()

        def parse_request(self):
            self.connection.settimeout(self.timeout)  # a request has begun: its reads get the long limit
            return super().parse_request()

        def log_message(self, fmt, *args):  # never the payload, only the request line
            if log.isEnabledFor(logging.DEBUG):  # formatted only when someone reads it
                log.debug("%s - %s", self.address_string(), fmt % args)

        def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            if self.close_connection:  # say so: the client must not send another request on it
                self.send_header("Connection", "close")
            # end_headers() would write the headers, then the body a second time: one write
            # (one syscall, one TCP segment with TCP_NODELAY) for the whole reply instead
            self._headers_buffer.append(b"\r\n")
            self.wfile.write(b"".join(self._headers_buffer) + body)
            self._headers_buffer = []

        def _unread_body(self) -> bool:
            """The request has a body this handler will not read: the connection cannot carry
            another request after the reply (its bytes would be parsed as one)."""
            return bool(self.headers.get("Transfer-Encoding")) or (self.headers.get("Content-Length") or "0") != "0"

        def do_GET(self):
            if self._unread_body():
                self.close_connection = True
            route = self.path.split("?")[0]
            if route == "/health":
                self._send(200, b"", "text/plain")
            elif route == "/pubsub" and self.headers.get("Upgrade", "").lower() == "websocket":
                self._websocket()
            else:
                self._send(404, b"404 page not found", "text/plain")

        def _websocket(self):
            key = self.headers.get("Sec-WebSocket-Key", "")
            self.close_connection = True
            if not key:
                self._send(400, b"missing Sec-WebSocket-Key", "text/plain")
                return
            self.send_response(101, "Switching Protocols")
            self.send_header("Upgrade", "websocket")
            self.send_header("Connection", "Upgrade")
            self.send_header("Sec-WebSocket-Accept", pubsub.accept_key(key))
            self.end_headers()

            def send(text: bytes) -> None:
                self.wfile.write(pubsub.frame(0x1, text))
                self.wfile.flush()

            try:
                opcode, data = pubsub.read_frame(self.rfile, max_body)
                if opcode != 0x1:
                    raise RPCError(400, "expected one text frame with a signed envelope")
                if not pubsub.serve(ctx, data, send):
                    return
            except RPCError as exc:
                try:
                    send(api.error_reply(exc)[1])
                except OSError:
                    return
            except (ConnectionError, OSError, struct.error):
                return
            except Exception as exc:  # never kill the server thread silently
                log.exception("pubsub error")
                try:
                    send(api.error_reply(RPCError(500, f"internal server error: {exc}"))[1])
                except OSError:
                    return
            try:
                self.wfile.write(pubsub.close_frame())
            except OSError:
                pass

        def do_POST(self):
            if self.path.split("?")[0] != "/api":
                self.close_connection = self._unread_body() or self.close_connection
                self._send(404, b"404 page not found", "text/plain")
                return
            if self.headers.get("Transfer-Encoding"):
                self.close_connection = True
                refused = RPCError(411, "chunked request bodies are not supported: send Content-Length")
                self._send(*api.error_reply(refused))
                return
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if length < 0:
                self.close_connection = True
                self._send(*api.error_reply(RPCError(400, "invalid Content-Length")))
                return
            if length > max_body:
                self.close_connection = True
                self._send(
                    *api.error_reply(
                        RPCError(413, f"request body of {length} bytes exceeds the limit of {max_body} bytes")
                    )
                )
                return
            body = self.rfile.read(length)
            self._send(*api.handle(ctx, body))

    return Handler


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, *args, **kwargs):
        self._conns: set = set()  # open client connections (kept alive between requests)
        self._conns_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def track(self, conn) -> None:
        with self._conns_lock:
            self._conns.add(conn)

    def untrack(self, conn) -> None:
        with self._conns_lock:
            self._conns.discard(conn)

    def shut_connections(self) -> None:
        """Shut the read side of every open connection: a handler waiting for a next request
        gets EOF and ends; one still in a request can write its reply, then ends."""
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                socket.socket.shutdown(conn, socket.SHUT_RD)  # the plain socket's (TLS: no close_notify)
            except OSError:
                pass


def _loop(stop: threading.Event, interval: float, fn, name: str) -> None:
    while not stop.wait(interval):
        try:
            fn()
        except Exception:
            log.exception("%s failed", name)


def close_server(httpd, ctx) -> None:
    """Stop the server after serve_forever returned: close the listening socket and every kept-alive
    connection, wake the long polls (assign, wait) so their threads end, close the store."""
    httpd.server_close()
    httpd.shut_connections()
    with ctx.store.cond:
        ctx.closing = True
        ctx.store.cond.notify_all()
    ctx.store.close()


def serve(cfg: ServerConfig, ready=None) -> None:
    """Run until SIGTERM/SIGINT. Writes <data_dir>/server.json (host, port, pid) once bound."""
    ctx = open_ctx(cfg)
    httpd = Server((cfg.host, cfg.port), make_handler(ctx, cfg.max_body, cfg.idle_timeout_s))
    scheme = "http"
    if cfg.tls_cert:
        import ssl

        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(str(cfg.tls_cert), str(cfg.tls_key) if cfg.tls_key else None)
        # handshake in the connection's own thread, not in the accept loop
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True, do_handshake_on_connect=False)
        scheme = "https"
    host, port = httpd.server_address[:2]
    stop = threading.Event()

    def sweep():
        with ctx.store.lock, ctx.store.tx():
            timeouts.sweep(ctx)
            crons.tick(ctx)
            channels.drop_closed(ctx)

    def cleanup():
        with ctx.store.lock, ctx.store.tx():
            n = timeouts.cleanup_stale_executors(ctx)
        if n:
            log.info("removed %d stale executor(s)", n)

    workers = [
        threading.Thread(target=_loop, args=(stop, cfg.sweep_interval_s, sweep, "timeout sweep"), daemon=True),
        threading.Thread(
            target=_loop, args=(stop, cfg.cleanup_interval_s, cleanup, "stale-executor cleanup"), daemon=True
        ),
    ]
    for w in workers:
        w.start()

    def on_signal(signum, _frame):
        log.info("signal %d: shutting down", signum)
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
    info_path = Path(cfg.data_dir) / INFO_NAME
    info = {
        "host": host,
        "port": port,
        "pid": os.getpid(),
        "url": f"{scheme}://{host}:{port}/api",
        "serverid": ctx.server_id,
        "started": time.time(),
    }
    write_atomic(info_path, json.dumps(info))
    log.info(
        "hpcq colonies server on %s://%s:%d (data %s, server id %s)", scheme, host, port, cfg.data_dir, ctx.server_id
    )
    if ready is not None:
        ready(httpd)
    try:
        httpd.serve_forever(poll_interval=0.2)
    finally:
        stop.set()
        close_server(httpd, ctx)
        try:
            if json.loads(info_path.read_text()).get("pid") == os.getpid():
                info_path.unlink()
        except (OSError, ValueError):
            pass
        log.info("stopped")
