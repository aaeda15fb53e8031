"""Identity and signature rules (spec §1), checked against pycolonies' own signer."""

import base64

import pytest
from crypto import Crypto, get_id, sign

from hpcq.server.signing import SignatureError, id_from_prvkey, new_prvkey, recover_id

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
    try:
        assert recover_id(b, sign(a, prv)) != get_id(prv)
    except SignatureError:
        pass


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
