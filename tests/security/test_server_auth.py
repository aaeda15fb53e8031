"""The embedded server, attacked over raw HTTP and through pycolonies: forged, high-s and
replayed-onto-other-payload signatures, unknown keys, non-members, the colony owner acting as a
member, and executors closing processes that are not theirs."""

from __future__ import annotations

import base64
import json

import pytest
import requests
from pycolonies import ColoniesConnectionError

from hpcq.colonyos.signing import id_from_prvkey, new_prvkey
from hpcq.testing.faults import make_spec

N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141  # secp256k1 order


def _sign(payload: str, prv: str) -> str:
    from crypto import Crypto  # pycolonies' module

    return Crypto().sign(payload, prv)


def _post(server, msg: dict, prv: str, sig: str | None = None, payload: str | None = None):
    payload = payload or base64.b64encode(json.dumps(msg).encode()).decode()
    body = {"payloadtype": msg["msgtype"], "payload": payload, "signature": sig or _sign(payload, prv)}
    r = requests.post(server.handle.url, data=json.dumps(body), timeout=10)
    err = json.loads(base64.b64decode(r.json()["payload"])) if r.json().get("error") else None
    return r.status_code, err


def _get_colony(server) -> dict:
    return {"msgtype": "getcolonymsg", "colonyname": server.colony}


def test_valid_signature_accepted(colonies_server):
    status, err = _post(colonies_server, _get_colony(colonies_server), colonies_server.user_prvkey)
    assert status == 200 and err is None


def test_tampered_signature_refused(colonies_server):
    msg = _get_colony(colonies_server)
    payload = base64.b64encode(json.dumps(msg).encode()).decode()
    sig = bytearray.fromhex(_sign(payload, colonies_server.user_prvkey))
    sig[5] ^= 0x01
    status, err = _post(colonies_server, msg, "", sig=sig.hex(), payload=payload)
    assert status == 403, err


def test_high_s_signature_refused(colonies_server):
    """(r, N-s, v^1) is the same ECDSA signature mathematically; Colonies refuses high s."""
    msg = _get_colony(colonies_server)
    payload = base64.b64encode(json.dumps(msg).encode()).decode()
    sig = bytes.fromhex(_sign(payload, colonies_server.user_prvkey))
    s = int.from_bytes(sig[32:64], "big")
    high = sig[:32] + (N - s).to_bytes(32, "big") + bytes([sig[64] ^ 1])
    status, err = _post(colonies_server, msg, "", sig=high.hex(), payload=payload)
    assert status == 403 and "high" in err["message"].lower(), err


def test_signature_of_another_payload_refused(colonies_server):
    """A signature lifted from one request cannot authorise another one."""
    s = colonies_server
    old = base64.b64encode(json.dumps(_get_colony(s)).encode()).decode()
    stolen = _sign(old, s.user_prvkey)
    evil = {"msgtype": "removeallprocessesmsg", "colonyname": s.colony, "state": -1}
    status, err = _post(s, evil, "", sig=stolen)
    assert status == 403, err


def test_unknown_key_refused(colonies_server):
    c = colonies_server.client()
    stranger = new_prvkey()
    with pytest.raises(ColoniesConnectionError, match="(?i)access denied|not a member|not found"):
        c.list_processes(colonies_server.colony, 10, 0, stranger)
    with pytest.raises(ColoniesConnectionError):
        c.submit_func_spec(make_spec(colonies_server.colony, "hpcq_echo"), stranger)


def test_member_of_another_colony_refused(colonies_server):
    s, c = colonies_server, colonies_server.client()
    other_key, user_key = new_prvkey(), new_prvkey()
    c.add_colony({"colonyid": id_from_prvkey(other_key), "name": "other"}, s.server_prvkey)
    c.add_user(
        {"colonyname": "other", "userid": id_from_prvkey(user_key), "name": "mallory", "email": "", "phone": ""},
        other_key,
    )
    pid = c.submit_func_spec(make_spec(s.colony, "hpcq_echo"), s.user_prvkey).processid
    for call in (
        lambda: c.get_process(pid, user_key),
        lambda: c.list_processes(s.colony, 10, 0, user_key),
        lambda: c.submit_func_spec(make_spec(s.colony, "hpcq_echo"), user_key),
        lambda: c.remove_process(pid, user_key),
    ):
        with pytest.raises(ColoniesConnectionError, match="(?i)access denied|not a member"):
            call()
    assert c.get_process(pid, s.user_prvkey).state == 0  # untouched


def test_colony_owner_is_not_a_member(colonies_server):
    s, c = colonies_server, colonies_server.client()
    with pytest.raises(ColoniesConnectionError, match="(?i)access denied|not a member"):
        c.submit_func_spec(make_spec(s.colony, "hpcq_echo"), s.colony_prvkey)
    with pytest.raises(ColoniesConnectionError, match="(?i)access denied|not a member"):
        c.assign(s.colony, 1, s.colony_prvkey)


def test_executor_cannot_close_what_it_was_not_assigned(colonies_server):
    s, c = colonies_server, colonies_server.client()
    k1, k2 = s.add_executor("ex1", "hpcq"), s.add_executor("ex2", "hpcq")
    pid = c.submit_func_spec(make_spec(s.colony, "hpcq_echo"), s.user_prvkey).processid
    assert c.assign(s.colony, 5, k1).processid == pid
    for key in (k2, s.user_prvkey, s.colony_prvkey):
        with pytest.raises(ColoniesConnectionError):
            c.close(pid, ["forged"], key)
        with pytest.raises(ColoniesConnectionError):
            c.fail(pid, ["forged"], key)
        with pytest.raises(ColoniesConnectionError):
            c.set_output(pid, ["forged"], key)
    p = c.get_process(pid, s.user_prvkey)
    assert p.state == 1 and not p.output
    c.close(pid, ["ok"], k1)
    with pytest.raises(ColoniesConnectionError, match="(?i)successful"):
        c.close(pid, ["twice"], k1)  # a second close is refused, so a result is registered once
    assert c.get_process(pid, s.user_prvkey).output == ["ok"]
