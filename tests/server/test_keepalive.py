"""Keep-alive HTTP: hpcq's client (hpcq.colonyos.client) keeps one connection per process and
thread; the embedded server serves persistent connections correctly (idle timeout, bodies it
does not read, shutdown) and the unmodified pycolonies client, one connection per call, still works.

Connections are counted in the server's connection log (``-v``: one "connection from" line per
accepted TCP connection) or, for the in-process server, by the server's own tracking."""

from __future__ import annotations

import json
import multiprocessing as mp
import socket
import threading
import time

import pytest
from pycolonies import func_spec

from hpcq.colonyos import ProcessState
from hpcq.colonyos import client as hpcq_client
from hpcq.config import ServerSettings
from hpcq.server.context import open_ctx
from hpcq.server.httpd import MAX_BODY, Server, close_server, make_handler
from hpcq.server.launch import init_colony


class ConnLog:
    """New "connection from" lines in a server's log since the last call."""

    def __init__(self, handle):
        self.path, self.pos = handle.log_path, 0
        self.new()

    def new(self) -> list[str]:
        text = self.path.read_text()
        lines = [ln for ln in text[self.pos :].splitlines() if "connection from" in ln]
        self.pos = len(text)
        return lines


@pytest.fixture
def vsrv(colonies_server_factory):
    srv = colonies_server_factory(["-v"])
    srv.e1 = srv.add_executor("e1", "t")
    srv.conns = ConnLog(srv.handle)
    return srv


def _cycle(c, srv):
    p = c.submit_func_spec(func_spec("f", ["x"], srv.colony, "t"), srv.user_prvkey)
    a = c.assign(srv.colony, 10, srv.e1)
    c.close(a.processid, ["ok"], srv.e1)
    return p


def test_one_connection_for_many_calls_and_pycolonies_unchanged(vsrv):
    c = hpcq_client(vsrv.host, vsrv.port)
    for _ in range(5):
        p = _cycle(c, vsrv)
        assert c.get_process(p.processid, vsrv.user_prvkey).state == ProcessState.SUCCESS
    assert c.wait(p, 5, vsrv.user_prvkey).state == ProcessState.SUCCESS  # websocket: its own connection
    assert len(vsrv.conns.new()) == 1 + 1  # 20 RPCs on one connection, plus wait()'s websocket
    # the unmodified client: a connection per call, served as before
    plain = vsrv.client()
    p = _cycle(plain, vsrv)
    assert plain.get_process(p.processid, vsrv.user_prvkey).output == ["ok"]
    assert len(vsrv.conns.new()) == 4


def _child(host, port, colony, key, q):
    c = hpcq_client(host, port)
    q.put([c.get_colony(colony, key)["name"] for _ in range(3)])


def test_threads_and_forked_children_get_their_own_connection(vsrv):
    c = hpcq_client(vsrv.host, vsrv.port)
    key = vsrv.user_prvkey
    c.get_colony(vsrv.colony, key)
    assert len(vsrv.conns.new()) == 1
    # another thread: its own session and connection (a connection carries one request at a time)
    t = threading.Thread(target=lambda: [c.get_colony(vsrv.colony, key) for _ in range(3)])
    t.start()
    t.join()
    assert len(vsrv.conns.new()) == 1
    # a forked child (its parent's session already holds a connection): a new one, not the parent's
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    child = ctx.Process(target=_child, args=(vsrv.host, vsrv.port, vsrv.colony, key, q))
    child.start()
    assert q.get(timeout=30) == [vsrv.colony] * 3
    child.join(30)
    assert child.exitcode == 0
    assert len(vsrv.conns.new()) == 1
    # the parent's connection is intact and still its own
    for _ in range(3):
        assert c.get_colony(vsrv.colony, key)["name"] == vsrv.colony
    assert vsrv.conns.new() == []


def test_server_restart_and_crash_between_calls(vsrv):
    """A pooled connection to a server that went away is replaced before the request is sent:
    the next call works and a submit is made exactly once."""
    c = hpcq_client(vsrv.host, vsrv.port)
    spec = func_spec("f", ["x"], vsrv.colony, "t")
    c.submit_func_spec(spec, vsrv.user_prvkey)
    vsrv.handle.restart()  # SIGTERM, same port and data dir
    c.submit_func_spec(spec, vsrv.user_prvkey)
    vsrv.handle.kill()  # SIGKILL
    vsrv.handle.restart()
    c.submit_func_spec(spec, vsrv.user_prvkey)
    waiting = c.list_processes(vsrv.colony, 100, ProcessState.WAITING, vsrv.user_prvkey)
    assert len(waiting) == 3
    conns = [ln for ln in vsrv.conns.new() if "GET /health" not in ln]
    assert len(conns) >= 3  # one per server life (plus the launcher's /health checks)


def test_tls_keep_alive_and_verification(tmp_path, monkeypatch):
    from hpcq.server.admin import make_self_signed
    from hpcq.server.launch import start_server

    data = tmp_path / "srv"
    cert, key = make_self_signed(data, ["127.0.0.1", "localhost"])
    h = start_server(
        data, args=["--tls-cert", str(cert), "--tls-key", str(key), "-v"], env={"COLONIES_SERVER_PRVKEY": ""}
    )
    try:
        env = init_colony(h, colony="dev")
        conns = ConnLog(h)
        monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
        monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
        c = hpcq_client("127.0.0.1", h.port, tls=True)
        with pytest.raises(Exception, match="CERTIFICATE_VERIFY_FAILED"):  # verification is on
            c.get_colony("dev", env["COLONIES_PRVKEY"])
        conns.new()
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))  # requests' environment, read per request
        for _ in range(5):
            assert c.get_colony("dev", env["COLONIES_PRVKEY"])["name"] == "dev"
        assert len(conns.new()) == 1  # one TLS handshake for five requests
    finally:
        h.stop()


# --- the server's side of persistent connections, in-process ------------------------------------
@pytest.fixture
def inproc(tmp_path):
    """The HTTP server in this process with a 0.5 s idle timeout; counts accepted connections."""
    env = init_colony(tmp_path, colony="dev")
    ctx = open_ctx(ServerSettings(data_dir=tmp_path))

    class Counting(Server):
        accepted = 0

        def track(self, conn):
            type(self).accepted += 1
            super().track(conn)

    httpd = Counting(("127.0.0.1", 0), make_handler(ctx, MAX_BODY, idle_timeout_s=0.5))
    th = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    th.start()
    httpd.env = env
    try:
        yield httpd
    finally:
        httpd.shutdown()
        close_server(httpd, ctx)


def _recv_reply(f) -> tuple[str, dict, bytes]:
    status = f.readline().decode()
    headers = {}
    while (line := f.readline().decode().strip()) != "":
        k, v = line.split(":", 1)
        headers[k.strip().lower()] = v.strip()
    return status, headers, f.read(int(headers["content-length"]))


def _wait_until(cond, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


def test_persistent_connection_framing_and_idle_timeout(inproc):
    port = inproc.server_address[1]
    s = socket.create_connection(("127.0.0.1", port))
    f = s.makefile("rb")
    # two requests sent at once (pipelined) on one connection: both answered, framed by Content-Length
    body = json.dumps({"payloadtype": "versionmsg", "payload": "eyJtc2d0eXBlIjogInZlcnNpb25tc2cifQ=="}).encode()
    post = b"POST /api HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    s.sendall(post + post)
    for _ in range(2):
        status, headers, reply = _recv_reply(f)
        assert status.startswith("HTTP/1.1 200") and "connection" not in headers
        assert json.loads(reply)["payloadtype"] == "versionmsg"
    # idle past the server's idle timeout: the server closes it and its thread ends
    assert f.read(1) == b""  # EOF, within the 0.5 s idle timeout (the read blocks until then)
    _wait_until(lambda: not inproc._conns)
    s.close()
    # a body the server does not read (unknown path): the reply says Connection: close, then EOF
    status, headers = _one_request_then_eof(port, b"POST /nope HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nGET /")
    assert status.startswith("HTTP/1.1 404") and headers["connection"] == "close"
    # chunked bodies are refused (411) and the connection closed
    chunked = b"POST /api HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
    status, headers = _one_request_then_eof(port, chunked)
    assert status.startswith("HTTP/1.1 411") and headers["connection"] == "close"


def _one_request_then_eof(port: int, request: bytes) -> tuple[str, dict]:
    """Send one raw request on a new connection; its reply's status line and headers, after
    checking that the server then closed the connection."""
    with socket.create_connection(("127.0.0.1", port)) as s:
        f = s.makefile("rb")
        s.sendall(request)
        status, headers, _ = _recv_reply(f)
        assert f.read(1) == b""
    return status, headers


def test_client_reconnects_after_the_servers_idle_close(inproc):
    c = hpcq_client("127.0.0.1", inproc.server_address[1])
    key = inproc.env["COLONIES_PRVKEY"]
    n0 = inproc.accepted
    assert c.get_colony("dev", key)["name"] == "dev"
    assert c.get_colony("dev", key)["name"] == "dev"
    assert inproc.accepted == n0 + 1
    _wait_until(lambda: not inproc._conns)  # the server closed the idle connection
    assert c.get_colony("dev", key)["name"] == "dev"  # replaced before the request was sent
    assert inproc.accepted == n0 + 2


def test_shutdown_ends_kept_alive_connections(tmp_path):
    init_colony(tmp_path, colony="dev")
    ctx = open_ctx(ServerSettings(data_dir=tmp_path))
    httpd = Server(("127.0.0.1", 0), make_handler(ctx, MAX_BODY))
    th = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    th.start()
    s = socket.create_connection(httpd.server_address[:2])
    f = s.makefile("rb")
    s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    assert _recv_reply(f)[0].startswith("HTTP/1.1 200")
    _wait_until(lambda: len(httpd._conns) == 1)
    httpd.shutdown()
    httpd.server_close()
    httpd.shut_connections()  # what serve() does on SIGTERM: the idle handler ends, the socket closes
    assert f.read(1) == b""
    _wait_until(lambda: not httpd._conns)
    s.close()
    ctx.store.close()


# --- resending: only what is safe to send twice --------------------------------------------------
class DropSecond:
    """A fake HTTP server: on every connection it answers the first request and closes the
    connection without a reply when the second arrives (the race of a server closing a kept-alive
    connection as the client sends). Records (connection number, payloadtype) of each request."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.seen: list[tuple[int, str]] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        n = 0
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            n += 1
            threading.Thread(target=self._serve, args=(conn, n), daemon=True).start()

    def _serve(self, conn, n):
        f = conn.makefile("rb")
        for i in range(2):
            head = b""
            while not head.endswith(b"\r\n\r\n"):
                line = f.readline()
                if not line:
                    return conn.close()
                head += line
            length = int(next(h.split(b":")[1] for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")))
            ptype = json.loads(f.read(length))["payloadtype"]
            self.seen.append((n, ptype))
            if i == 1:
                conn.shutdown(socket.SHUT_RDWR)
                return conn.close()
            payload = "eyJuYW1lIjogImRldiJ9"  # base64 of {"name": "dev"}
            body = json.dumps({"payloadtype": ptype, "payload": payload, "error": False}).encode()
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body))
            conn.sendall(body)


def test_broken_connection_resends_reads_only():
    from hpcq.colonyos.signing import new_prvkey

    fake = DropSecond()
    c = hpcq_client("127.0.0.1", fake.port)
    key = new_prvkey()
    assert c.get_colony("dev", key) == {"name": "dev"}  # connection 1, request 1
    assert c.get_colony("dev", key) == {"name": "dev"}  # connection 1 breaks -> sent again on 2
    assert fake.seen == [(1, "getcolonymsg"), (1, "getcolonymsg"), (2, "getcolonymsg")]
    with pytest.raises(Exception, match="Connection aborted"):  # a submit is never sent twice
        c.submit_func_spec(func_spec("f", [], "dev", "t"), key)
    time.sleep(0.2)
    assert fake.seen[3:] == [(2, "submitfuncspecmsg")]
    fake.sock.close()
