"""Identity and signature rules (spec §1), checked against pycolonies' own signer; hpcq's
libsecp256k1 client signer checked byte for byte against it."""

import base64
import contextlib
import json

import pytest
from crypto import Crypto, get_id, sign

from hpcq.colonyos import client as hpcq_client
from hpcq.colonyos import signing
from hpcq.colonyos.signing import FastCrypto, SignatureError, id_from_prvkey, new_prvkey, recover_id
from hpcq.colonyos.signing import sign as fast_sign

# Public dev keys from colonies' docker-compose.env and their ids (spec §1 check vectors).
VECTORS = {
    "fcc79953d8a751bf41db661592dc34d30004b1a651ffa0725b03ac227641499d": "039231c7644e04b6895471dd5335cf332681c54e27f81fac54f9067b3f2c0103",  # noqa: E501
    "ba949fa134981372d6da62b6a56f336ab4d843b22c02a4257dcf7d0d73097514": "4787a5071856a4acf702b2ffcea422e3237a679c681314113d86139461290cf4",  # noqa: E501
    "ddf7f7791208083b6a9ed975a72684f6406a269cfa36f1b1c32045c0a71fff05": "3fc05cf3df4b494e95d6a3d297a34f19938f7daa7422ab0d4f794454133341ac",  # noqa: E501
}
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


@pytest.mark.parametrize("prv,expected", VECTORS.items())
def test_id_vectors(prv, expected):
    assert id_from_prvkey(prv) == expected == get_id(prv)


@pytest.mark.parametrize("prv", list(VECTORS))
def test_recover_matches_pycolonies_signature(prv):
    payload = base64.b64encode(b'{"msgtype":"getcolonymsg","colonyname":"dev"}').decode()
    assert recover_id(payload, Crypto().sign(payload, prv)) == VECTORS[prv]


def test_signature_covers_the_base64_text():
    prv = new_prvkey()
    a = base64.b64encode(b'{"msgtype":"x"}').decode()
    b = base64.b64encode(b'{"msgtype":"y"}').decode()
    # A signature for one payload recovers some *other* key for another payload: never the signer.
    with contextlib.suppress(SignatureError):
        assert recover_id(b, sign(a, prv)) != get_id(prv)


def test_high_s_refused():
    prv = new_prvkey()
    payload = base64.b64encode(b"{}").decode()
    sig = bytes.fromhex(sign(payload, prv))
    s = int.from_bytes(sig[32:64], "big")
    high = sig[:32] + (N - s).to_bytes(32, "big") + bytes([sig[64] ^ 1])
    with pytest.raises(SignatureError, match="high s"):
        recover_id(payload, high.hex())


@pytest.mark.parametrize(
    "sig,match",
    [
        ("zz", "not hex"),
        ("00" * 64, "65 bytes"),
        ("00" * 64 + "1b", "recovery id"),  # 27: Ethereum style, refused (only 0/1)
        ("00" * 65, "out of range"),
    ],
)
def test_malformed_signatures_refused(sig, match):
    with pytest.raises(SignatureError, match=match):
        recover_id("e30=", sig)


def test_new_prvkey_is_valid_and_random():
    keys = {new_prvkey() for _ in range(20)}
    assert len(keys) == 20
    for k in keys:
        assert len(k) == 64 and id_from_prvkey(k) == get_id(k)


# --- hpcq's client signer (hpcq.colonyos.signing.sign, used by hpcq.colonyos.rpc) -----------------
MESSAGES = [
    "",
    "e30=",
    base64.b64encode(b'{"msgtype":"submitfuncspecmsg","spec":{"funcname":"f","args":["x"]}}').decode(),
    base64.b64encode(b'{"msgtype":"assignprocessmsg","colonyname":"dev","timeout":10}').decode(),
    base64.b64encode(json.dumps({"msgtype": "addlogmsg", "message": "x" * 5000}).encode()).decode(),
    "not base64 at all: ünïcødé ✓",
]


def _keys():
    return list(VECTORS) + [new_prvkey() for _ in range(5)] + ["00" * 31 + "01", format(N - 1, "064x")]


@pytest.mark.parametrize("prv", _keys())
def test_fast_signature_is_pycolonies_signature(prv):
    """Byte for byte what pycolonies' pure-Python Crypto makes, for several keys and messages."""
    for m in MESSAGES:
        assert fast_sign(m, prv) == Crypto().sign(m, prv) == FastCrypto().sign(m, prv), (prv, m)
    assert FastCrypto().id(prv) == Crypto().id(prv)


def test_keys_libsecp256k1_refuses_are_signed_by_pycolonies(monkeypatch):
    """A short key, a key >= n, and a forced out-of-range nonce take pycolonies' own code: same bytes."""
    for prv in ["ab" * 31, format(N + 5, "064x")]:
        assert fast_sign("e30=", prv) == Crypto().sign("e30=", prv)
    with pytest.raises(Exception, match="Invalid privkey"):  # pycolonies' own error, not another
        FastCrypto().id(format(N + 5, "064x"))
    monkeypatch.setattr(signing, "_pycolonies_nonce", lambda digest, key: N)
    prv = new_prvkey()
    assert fast_sign("e30=", prv) == Crypto().sign("e30=", prv)


def test_fast_client_against_the_unmodified_server(srv, monkeypatch):
    """Submit -> assign -> close -> get through hpcq's client: pure-Python signing never runs for an
    RPC; wait() (the websocket, which hpcq does not use) signs with pycolonies' own signer."""
    import crypto
    from pycolonies import func_spec

    plain = srv.client()
    c = hpcq_client(srv.handle.host, srv.handle.port)
    up, e1 = srv.user_prvkey, srv.e1
    # the same refusal, word for word, as the unmodified client gets
    errors = []
    for cl in (plain, c):
        with pytest.raises(Exception) as exc:
            cl.get_process("0" * 64, up)
        errors.append((type(exc.value), str(exc.value)))
    assert errors[0] == errors[1]

    monkeypatch.setattr(crypto.Crypto, "sign", lambda *a: pytest.fail("pure-Python signing used"))
    p = c.submit_func_spec(func_spec("f", ["x"], "dev", "t"), up)
    got = c.assign("dev", 10, e1)
    assert got.processid == p.processid and got.initiatorname
    c.close(got.processid, ["ok"], e1)
    assert c.get_process(p.processid, up).output == ["ok"]
    monkeypatch.undo()
    assert c.wait(p, 10, up).state == 2  # the websocket path: pycolonies' signer, the same bytes
