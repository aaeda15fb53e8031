"""TLS: `hpcq server start --tls-cert/--tls-key` with a self-signed pair; the real pycolonies
client (HTTPS and the WSS websocket of wait()) trusts it through REQUESTS_CA_BUNDLE and
WEBSOCKET_CLIENT_CA_BUNDLE."""

from pycolonies import Colonies, func_spec

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
