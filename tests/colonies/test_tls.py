"""TLS the way production does it (issue 21, item 5): the real colonies server behind nginx.

colonies v1.9.x speaks plain HTTP even with ``COLONIES_TLS=true`` (it checks that the certificate
files exist, then calls a plain ``ListenAndServe``: v1.9.12 pkg/server/server.go ``ServeForever``);
the first test proves that on the binary. TLS is therefore terminated by a reverse proxy
(hpcq.testing.tls_proxy: Debian's nginx, a throw-away CA) in front of the server's plain port, and
clients set ``COLONIES_SERVER_TLS=true`` with the proxy's port and trust the CA through
``REQUESTS_CA_BUNDLE`` (docs/server.md, "TLS in production"). Through the proxy: a round trip with
hpcq's client, with the unmodified pycolonies (its ``wait()`` over ``wss://`` too), and an hpcq
executor that serves ``hpcq_echo``; a client that does not trust the CA is refused with an SSL
error, and plain HTTP to the TLS port gets no colonies reply.
"""

from __future__ import annotations

import os
import shutil

import pytest
import requests

from hpcq.colonyos import ProcessState as PS
from hpcq.colonyos import connect
from hpcq.colonyos.signing import id_from_prvkey, new_prvkey
from hpcq.config import Settings, write_env_file
from hpcq.testing import need
from hpcq.testing.colonies_lab import ColoniesLabError
from hpcq.testing.faults import ExecutorProc, make_spec, wait_final
from hpcq.testing.tls_proxy import TLSProxy, make_certificates

pytestmark = pytest.mark.real_colonies


@pytest.fixture(scope="module")
def proxy(real_colonies_server):
    """nginx terminating TLS in front of the session's real colonies server."""
    need(shutil.which("nginx") is not None or os.path.exists("/usr/sbin/nginx"), "no nginx (Debian's nginx-light)")
    p = TLSProxy(upstream_port=real_colonies_server.port).start()
    try:
        yield p
    finally:
        p.stop()


@pytest.fixture
def tls_env(real_colonies_server, proxy, monkeypatch):
    """A fresh colony; the COLONIES_* a client uses to reach it through the proxy (TLS on); the CA
    trusted by requests (HTTPS) and websocket-client (WSS)."""
    env = real_colonies_server.new_colony()
    env.update(COLONIES_SERVER_PORT=str(proxy.port), COLONIES_SERVER_TLS="true")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(proxy.ca))
    monkeypatch.setenv("WEBSOCKET_CLIENT_CA_BUNDLE", str(proxy.ca))
    return env


def _add_executor(c, env: dict[str, str], name: str, executortype: str) -> str:
    prv = new_prvkey()
    colony, colony_prv = env["COLONIES_COLONY_NAME"], env["COLONIES_COLONY_PRVKEY"]
    executor = {"executorname": name, "executorid": id_from_prvkey(prv), "colonyname": colony}
    c.add_executor({**executor, "executortype": executortype}, colony_prv)
    c.approve_executor(colony, name, colony_prv)
    return prv


def test_colonies_tls_true_still_serves_plain_http(real_colonies_factory, tmp_path):
    """The reference's claim, on the binary: COLONIES_TLS=true is read (missing files stop the
    server), yet with the files present the port answers plain HTTP and no TLS handshake."""
    ca, cert, key = make_certificates(tmp_path / "certs")
    with pytest.raises(ColoniesLabError, match="Failed to load TLS"):
        real_colonies_factory(COLONIES_TLS="true", COLONIES_TLSCERT=str(cert), COLONIES_TLSKEY=str(tmp_path / "no.key"))
    srv = real_colonies_factory(COLONIES_TLS="true", COLONIES_TLSCERT=str(cert), COLONIES_TLSKEY=str(key))
    assert requests.get(f"http://{srv.host}:{srv.port}/health", timeout=5).status_code == 200
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"https://{srv.host}:{srv.port}/health", verify=str(ca), timeout=5)


def test_hpcq_client_round_trip_through_proxy(tls_env, tmp_path):
    """hpcq's own client (Settings -> connect, keep-alive over HTTPS) against colonies via nginx."""
    env_file = tmp_path / "colonies.env"
    write_env_file(env_file, tls_env)
    settings = Settings.load(env_file)
    assert settings.tls and settings.port == int(tls_env["COLONIES_SERVER_PORT"])
    c = connect(settings)
    assert c.url.startswith("https://")
    ex_prv = _add_executor(c, tls_env, "tls-hpcq", "tls-t")
    spec = make_spec(settings.colony_name, "hpcq_echo", {"message": "over tls"}, executortype="tls-t")
    pid = c.submit_func_spec(spec, settings.prvkey).processid
    assigned = c.assign(settings.colony_name, 5, ex_prv)
    assert assigned.processid == pid
    c.close(pid, ["through nginx"], ex_prv)
    done = c.get_process(pid, settings.prvkey)
    assert done.state == PS.SUCCESS and done.output == ["through nginx"]


def test_pycolonies_round_trip_through_proxy(tls_env):
    """The unmodified pycolonies with tls=True: RPC over HTTPS and wait() over WSS (nginx upgrades)."""
    from pycolonies import Colonies, func_spec

    c = Colonies("127.0.0.1", int(tls_env["COLONIES_SERVER_PORT"]), tls=True)
    colony, user = tls_env["COLONIES_COLONY_NAME"], tls_env["COLONIES_PRVKEY"]
    ex_prv = _add_executor(c, tls_env, "tls-pyc", "tls-p")
    p = c.submit_func_spec(func_spec("f", [], colony, "tls-p"), user)
    a = c.assign(colony, 5, ex_prv)
    c.close(a.processid, ["pycolonies over tls"], ex_prv)
    done = c.wait(p, 10, user)  # the websocket subscription, wss:// through the proxy
    assert done.processid == p.processid
    assert done.state == PS.SUCCESS and done.output == ["pycolonies over tls"]


def test_untrusted_or_plain_clients_are_refused(tls_env, monkeypatch):
    """Without the CA the client fails on the certificate (no fallback to plain HTTP); plain HTTP to
    the TLS port reaches nginx's 400, never colonies."""
    from pycolonies import Colonies, ColoniesConnectionError

    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    port = int(tls_env["COLONIES_SERVER_PORT"])
    with pytest.raises(ColoniesConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
        Colonies("127.0.0.1", port, tls=True).get_colony(tls_env["COLONIES_COLONY_NAME"], tls_env["COLONIES_PRVKEY"])
    hpcq_client = connect(Settings(host="127.0.0.1", port=port, tls=True))
    with pytest.raises(ColoniesConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
        hpcq_client.get_colony(tls_env["COLONIES_COLONY_NAME"], tls_env["COLONIES_PRVKEY"])
    r = requests.post(f"http://127.0.0.1:{port}/api", data="{}", timeout=5)
    assert r.status_code == 400 and "plain HTTP request was sent to HTTPS port" in r.text


def test_executor_serves_through_proxy(tls_env, tmp_path):
    """An hpcq executor subprocess (local backend) with COLONIES_SERVER_TLS=true and the proxy's
    port registers, takes an hpcq_echo and closes it, all through nginx."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COLONIES_")}
    env.update(tls_env)
    ex = ExecutorProc(env_file=None, state_dir=tmp_path / "executor", backend="local", name="tls-ex", env=env)
    c = connect(Settings(host="127.0.0.1", port=int(tls_env["COLONIES_SERVER_PORT"]), tls=True))
    colony, user = tls_env["COLONIES_COLONY_NAME"], tls_env["COLONIES_PRVKEY"]
    with ex.start():
        pid = c.submit_func_spec(make_spec(colony, "hpcq_echo", {"message": "hello tls"}, walltime=60), user).processid
        done = wait_final(c, user, [pid], 90)[pid]
    assert done.state == PS.SUCCESS, (done.errors, ex.log_text()[-3000:])
    assert "Traceback" not in ex.log_text(), ex.log_text()[-3000:]
