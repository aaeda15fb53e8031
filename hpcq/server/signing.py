"""secp256k1 identities as ColonyOS uses them: the caller never sends its id, the server
recovers it from the signature (coincurve, i.e. libsecp256k1)."""

from __future__ import annotations

import hashlib
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
    except Exception as exc:  # libsecp256k1 refuses: no key recoverable
        raise SignatureError(f"invalid signature: {exc}") from None
    # No separate verify: recovery computes Q = r^-1 (sR - zG), for which (r, s) verifies by
    # construction (and libsecp256k1 refuses r/s that recover nothing); low-s is checked above.
    return pubkey_id(pub)
