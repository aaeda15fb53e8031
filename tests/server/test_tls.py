"""TLS: `hpcq server start --tls-cert/--tls-key` with a self-signed pair; the real pycolonies
client (HTTPS and the WSS websocket of wait()) trusts it through REQUESTS_CA_BUNDLE and
WEBSOCKET_CLIENT_CA_BUNDLE.

Bad requests get the same replies over TLS as over plain HTTP (issue 21: an independent smoke saw
``RemoteDisconnected`` instead): a bad signature and a garbage body (the same status and error
payload), plain HTTP sent to the TLS port (a 400 that says to turn TLS on, where the server used to
close the connection without a word), a refused oversized upload (its 413, where the client's write
used to fail with SSLEOFError) and ``Expect: 100-continue`` (answered at once)."""

import base64
import json
import socket
import ssl
import time

import pytest
import requests
from pycolonies import Colonies, ColoniesConnectionError, func_spec

from hpcq.colonyos import ProcessState as S
from hpcq.colonyos.signing import id_from_prvkey, new_prvkey
from hpcq.server.admin import make_self_signed
from hpcq.server.launch import init_colony, start_server


def test_tls_round_trip_with_pycolonies(tmp_path, monkeypatch):
    data = tmp_path / "srv"
    cert, key = make_self_signed(data, ["127.0.0.1", "localhost"])
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    h = start_server(data, args=["--tls-cert", str(cert), "--tls-key", str(key)], env={"COLONIES_SERVER_PRVKEY": ""})
    try:
        env = init_colony(h, colony="dev")
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
        monkeypatch.setenv("WEBSOCKET_CLIENT_CA_BUNDLE", str(cert))
        c = Colonies("127.0.0.1", h.port, tls=True)
        assert c.url.startswith("https://")
        e = new_prvkey()
        c.add_executor(
            {"executorname": "e", "executorid": id_from_prvkey(e), "colonyname": "dev", "executortype": "t"},
            env["COLONIES_COLONY_PRVKEY"],
        )
        c.approve_executor("dev", "e", env["COLONIES_COLONY_PRVKEY"])
        p = c.submit_func_spec(func_spec("f", [], "dev", "t"), env["COLONIES_PRVKEY"])
        a = c.assign("dev", 5, e)
        c.close(a.processid, ["over tls"], e)
        done = c.wait(p, 10, env["COLONIES_PRVKEY"])  # the websocket, over wss://
        assert done.state == S.SUCCESS and done.output == ["over tls"]
    finally:
        h.stop()


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """{"http": (handle, verify), "https": (handle, verify)}: one plain and one TLS server."""
    out = {}
    try:
        for scheme in ("http", "https"):
            data = tmp_path_factory.mktemp(scheme) / "srv"
            args, verify = [], True
            if scheme == "https":
                cert, key = make_self_signed(data, ["127.0.0.1"])
                args, verify = ["--tls-cert", str(cert), "--tls-key", str(key)], str(cert)
            out[scheme] = (start_server(data, args=args, env={"COLONIES_SERVER_PRVKEY": ""}), verify)
            init_colony(out[scheme][0], colony="dev")
        yield out
    finally:
        for h, _ in out.values():
            h.stop()


def _post(servers, scheme: str, body: bytes) -> tuple[int, dict]:
    h, verify = servers[scheme]
    r = requests.post(f"{scheme}://127.0.0.1:{h.port}/api", data=body, verify=verify, timeout=10)
    reply = r.json()
    assert reply["error"] is True and reply["payloadtype"] == "error", reply
    return r.status_code, json.loads(base64.b64decode(reply["payload"]))


GETCOLONY = base64.b64encode(json.dumps({"msgtype": "getcolonymsg", "colonyname": "dev"}).encode()).decode()
BAD_REQUESTS = {
    "bad signature": json.dumps({"payloadtype": "getcolonymsg", "payload": GETCOLONY, "signature": "00" * 65}),
    "signature not hex": json.dumps({"payloadtype": "getcolonymsg", "payload": GETCOLONY, "signature": "zz"}),
    "garbage body": "this is not a colonies request",
    "binary garbage": bytes(range(256)) * 4,
}


@pytest.mark.parametrize("name", list(BAD_REQUESTS))
def test_bad_request_gets_the_same_error_over_tls_as_over_plain(servers, name):
    body = BAD_REQUESTS[name]
    body = body if isinstance(body, bytes) else body.encode()
    plain = _post(servers, "http", body)
    assert plain[0] in (400, 403), plain
    assert _post(servers, "https", body) == plain


def test_plain_http_to_the_tls_port_gets_an_error_that_says_so(servers):
    h, _ = servers["https"]
    r = requests.post(f"http://127.0.0.1:{h.port}/api", data=BAD_REQUESTS["garbage body"], timeout=10)
    assert r.status_code == 400 and r.headers["Connection"] == "close"
    message = json.loads(base64.b64decode(r.json()["payload"]))["message"]
    assert "COLONIES_SERVER_TLS=true" in message and "REQUESTS_CA_BUNDLE" in message
    with pytest.raises(ColoniesConnectionError, match="speaks HTTPS"):  # what a pycolonies user sees
        Colonies("127.0.0.1", h.port, tls=False).get_colony("dev", new_prvkey())
    # the TLS side still serves, and a handshake that fails is not a traceback in the log
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"https://127.0.0.1:{h.port}/health", timeout=10)  # the self-signed cert is not trusted
    assert requests.get(f"https://127.0.0.1:{h.port}/health", verify=servers["https"][1], timeout=10).ok
    assert "Traceback" not in h.log_path.read_text(errors="replace")


def test_refused_upload_over_tls_still_gets_its_reply(servers):
    """A body over the limit is refused (413) before it is read; the server drains it so the
    client's upload completes and it reads the reply (TLS: was SSLEOFError)."""
    for scheme in ("http", "https"):
        status, payload = _post(servers, scheme, b"x" * (16 * 1024 * 1024 + 1))
        assert status == 413 and "exceeds the limit" in payload["message"], (scheme, payload)


def test_expect_100_continue_is_answered_at_once(servers):
    """curl sends larger bodies after "100 Continue" (or after 1 s without it)."""
    h, cert = servers["https"]
    body = BAD_REQUESTS["garbage body"].encode()
    head = f"POST /api HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n"
    ctx = ssl.create_default_context(cafile=cert)
    raw = socket.create_connection(("127.0.0.1", h.port), timeout=10)
    with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
        s.sendall(head.encode())
        s.settimeout(0.5)
        t0 = time.monotonic()
        assert s.recv(100).startswith(b"HTTP/1.1 100"), "no 100 Continue before the body"
        assert time.monotonic() - t0 < 0.5
        s.settimeout(10)
        s.sendall(body)
        assert s.recv(100).startswith(b"HTTP/1.1 400")
