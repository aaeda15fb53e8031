"""secp256k1 identities as ColonyOS uses them: the caller never sends its id, the server
recovers it from the signature (coincurve, i.e. libsecp256k1).

Both sides live here, below the client, the executor and the server, which all import it:
:func:`recover_id` (the server), :func:`sign` (hpcq's clients, through :mod:`hpcq.colonyos.rpc`),
which makes pycolonies' exact signatures, and key creation and ids (:func:`new_prvkey`,
:func:`id_from_prvkey`, :class:`FastCrypto`: server admin, executor self-registration).
"""

from __future__ import annotations

import hashlib
import hmac
import os

import coincurve

# Half the curve order: Go's verifier refuses s above it (signature malleability).
_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_HALF_N = _N // 2


class SignatureError(ValueError):
    """The signature is malformed, high-s, or does not recover a key."""


def pubkey_id(pub: coincurve.PublicKey) -> str:
    """id = sha3_256 of the lowercase hex *text* of the uncompressed 65-byte public key."""
    return hashlib.sha3_256(pub.format(compressed=False).hex().encode("ascii")).hexdigest()


def id_from_prvkey(prvkey_hex: str) -> str:
    try:
        key = coincurve.PrivateKey(bytes.fromhex(prvkey_hex))
    except (ValueError, TypeError) as exc:
        raise SignatureError(f"invalid private key ({exc}); expected 64 hex characters") from None
    return pubkey_id(key.public_key)


def new_prvkey() -> str:
    """A fresh key, made the way pycolonies makes one (sha3_256 of 32 random bytes)."""
    while True:
        k = hashlib.sha3_256(os.urandom(32)).hexdigest()
        if 0 < int(k, 16) < _N:
            return k


def recover_id(payload_b64: str, signature_hex: str) -> str:
    """Recover the signer's id from sha3_256(ASCII of the base64 payload) and r||s||v (v in 0/1)."""
    try:
        sig = bytes.fromhex(signature_hex)
    except (ValueError, TypeError):
        raise SignatureError("signature is not hex") from None
    if len(sig) != 65:
        raise SignatureError(f"signature must be 65 bytes (r||s||v), got {len(sig)}")
    if sig[64] not in (0, 1):
        raise SignatureError("signature recovery id must be 0 or 1")
    r = int.from_bytes(sig[:32], "big")
    s = int.from_bytes(sig[32:64], "big")
    if not (0 < r < _N and 0 < s < _N):
        raise SignatureError("signature r/s out of range")
    if s > _HALF_N:
        raise SignatureError("invalid signature: high s value (must be low-s normalised)")
    digest = hashlib.sha3_256(payload_b64.encode("ascii", "replace")).digest()
    try:
        pub = coincurve.PublicKey.from_signature_and_message(sig, digest, hasher=None)
    except Exception as exc:  # noqa: BLE001 - libsecp256k1 refuses: no key recoverable
        raise SignatureError(f"invalid signature: {exc}") from None
    # No separate verify: recovery computes Q = r^-1 (sR - zG), for which (r, s) verifies by
    # construction (and libsecp256k1 refuses r/s that recover nothing); low-s is checked above.
    return pubkey_id(pub)


# --- the client side: pycolonies' signature, computed by libsecp256k1 ---------------------------
_KEYS: dict[str, coincurve.PrivateKey] = {}  # a PrivateKey derives its public key: build it once per key
_MAX_KEYS = 256


def _pycolonies_nonce(digest: bytes, key: bytes) -> int:
    """pycolonies' k (eth-keys' deterministic_generate_k): RFC 6979's first HMAC-SHA256 candidate."""
    v, k = b"\x01" * 32, b"\x00" * 32
    k = hmac.digest(k, v + b"\x00" + key + digest, "sha256")
    v = hmac.digest(k, v, "sha256")
    k = hmac.digest(k, v + b"\x01" + key + digest, "sha256")
    v = hmac.digest(k, v, "sha256")
    return int.from_bytes(hmac.digest(k, v, "sha256"), "big")


def sign(payload: str, prvkey_hex: str) -> str:
    """The signature pycolonies' ``Crypto().sign(payload, prvkey)`` makes, byte for byte, ~50x faster.

    Both sign sha3_256(payload) with the nonce of RFC 6979 (HMAC-SHA256, first candidate), low-s
    normalised, as r||s||v hex with v in {0, 1}. libsecp256k1 differs from pycolonies' pure-Python
    code only where a value leaves the curve order's range (a digest or nonce >= n, an r that
    wrapped: each about 2^-128 likely); those inputs, and keys libsecp256k1 refuses, are signed by
    pycolonies' own code, so the output is identical for every input (tests/server/test_signing.py).
    """
    digest = hashlib.sha3_256(payload.encode("utf-8")).digest()
    key = _KEYS.get(prvkey_hex)
    if key is None:
        try:
            raw = bytes.fromhex(prvkey_hex)
            key = coincurve.PrivateKey(raw) if len(raw) == 32 else None
        except (ValueError, TypeError):
            key = None
        if key is not None:
            if len(_KEYS) >= _MAX_KEYS:
                _KEYS.clear()
            _KEYS[prvkey_hex] = key
    if key is not None and int.from_bytes(digest, "big") < _N:
        k = _pycolonies_nonce(digest, key.secret)
        if 0 < k < _N:  # libsecp256k1 takes this first candidate too
            sig = key.sign_recoverable(digest, hasher=None)
            if sig[64] < 2:  # r did not wrap (pycolonies would send the unreduced x)
                return sig.hex()
    from crypto import sign as pycolonies_sign  # pycolonies' module: the rare rest

    return pycolonies_sign(payload, prvkey_hex)


class FastCrypto:
    """pycolonies' ``Crypto`` interface (prvkey, id, sign) on libsecp256k1, same outputs; ``id``
    answers with pycolonies' own error for a key libsecp256k1 refuses.

    ``native`` is accepted and ignored: pycolonies' ``Crypto`` takes it (its ctypes library option)."""

    def __init__(self, native: bool = False):
        self.native = native

    def prvkey(self) -> str:
        return new_prvkey()

    def id(self, prvkey_hex: str) -> str:
        try:
            return id_from_prvkey(prvkey_hex)
        except SignatureError:
            from crypto import get_id  # pycolonies' own error for a key it refuses

            return get_id(prvkey_hex)

    def sign(self, data: str, prvkey_hex: str) -> str:
        return sign(data, prvkey_hex)
