"""COSE_Sign1 (RFC 9052) with CWT claims (RFC 8392): safe CBOR decoding, signing, verifying."""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from kiosk.codes.errors import CodeError
from kiosk.reasons import (
    CODE_BAD_SIGNATURE,
    CODE_EXPIRED,
    CODE_MALFORMED,
    CODE_NOT_YET_VALID,
    CODE_UNSUPPORTED_ALG,
)

ES256 = -7
EDDSA = -8
ES384 = -35
ES512 = -36
PS256 = -37
ALG_NAMES = {ES256: "ES256", EDDSA: "EdDSA", ES384: "ES384", ES512: "ES512", PS256: "PS256"}
#: The hash each ECDSA algorithm names (RFC 9053 §2.1); the curve is the key's own.
_ECDSA_HASH: dict[int, type[hashes.HashAlgorithm]] = {
    ES256: hashes.SHA256,
    ES384: hashes.SHA384,
    ES512: hashes.SHA512,
}
#: The curve RFC 9053 pairs with each ECDSA algorithm ("it is suggested"), kept by strict callers.
_PAIRED_CURVE = {ES256: "secp256r1", ES384: "secp384r1", ES512: "secp521r1"}

HDR_ALG = 1
HDR_KID = 4
TAG_SIGN1 = 18
TAG_CWT = 61

CLAIM_ISS = 1
CLAIM_SUB = 2
CLAIM_EXP = 4
CLAIM_IAT = 6
CLAIM_CTI = 7

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_TIME = 253402300799  # 9999-12-31T23:59:59Z, the last second a datetime can hold

PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey
PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


def _keep_tag(tag: int) -> Any:
    return lambda value, _immutable: cbor2.CBORTag(tag, value)


# Built-in semantic decoders of cbor2 that would run code on untrusted input (regular
# expressions, MIME parsing, shared references, big floats) or turn dates into objects: keep
# them as plain tags instead (kiosk.codes.dccschema reads the date tags a DCC may carry).
_INERT = {
    t: _keep_tag(t)
    for t in (0, 1, 2, 3, 4, 5, 25, 28, 29, 30, 35, 36, 37, 100, 256, 258, 260, 261, 1004)
}


def cbor_loads(data: bytes) -> Any:
    """Decode one untrusted CBOR item: bounded depth, no duplicate map keys, no trailing bytes,
    no semantic tag decoding; CodeError(code.malformed) otherwise."""
    fp = io.BytesIO(data)
    try:
        decoder = cbor2.CBORDecoder(
            fp, semantic_decoders=_INERT, max_depth=24, allow_duplicate_keys=False
        )
        obj = decoder.decode()
    except (cbor2.CBORDecodeError, ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise CodeError(CODE_MALFORMED, f"cbor: {type(exc).__name__}") from None
    if fp.tell() != len(data):
        raise CodeError(CODE_MALFORMED, "bytes after the CBOR item")
    return obj


@dataclass(frozen=True)
class Sign1:
    """A parsed COSE_Sign1; header values are looked up protected first, then unprotected."""

    protected_raw: bytes
    protected: dict[Any, Any]
    unprotected: dict[Any, Any]
    payload: bytes
    signature: bytes

    def header(self, label: int) -> Any:
        if label in self.protected:
            return self.protected[label]
        return self.unprotected.get(label)

    @property
    def alg(self) -> Any:
        return self.header(HDR_ALG)

    @property
    def kid(self) -> bytes | None:
        kid = self.header(HDR_KID)
        return kid if isinstance(kid, bytes) else None

    def to_be_signed(self) -> bytes:
        return sig_structure(self.protected_raw, self.payload)


def sig_structure(protected_raw: bytes, payload: bytes) -> bytes:
    """The Sig_structure of RFC 9052 §4.4 with empty external AAD."""
    return cbor2.dumps(["Signature1", protected_raw, b"", payload])


def parse_sign1(data: bytes) -> Sign1:
    """Parse COSE_Sign1 bytes (tag 18 optional, an outer CWT tag 61 allowed); CodeError if not."""
    obj = cbor_loads(data)
    if isinstance(obj, cbor2.CBORTag) and obj.tag == TAG_CWT:
        obj = obj.value
    if isinstance(obj, cbor2.CBORTag) and obj.tag == TAG_SIGN1:
        obj = obj.value
    if not (isinstance(obj, list | tuple) and len(obj) == 4):  # tagged arrays decode as tuples
        raise CodeError(CODE_MALFORMED, "not a COSE_Sign1 array")
    protected_raw, unprotected, payload, signature = obj
    if not (
        isinstance(protected_raw, bytes)
        and isinstance(unprotected, Mapping)
        and isinstance(payload, bytes)
        and isinstance(signature, bytes)
    ):
        raise CodeError(CODE_MALFORMED, "COSE_Sign1 member of the wrong type")
    protected = cbor_loads(protected_raw) if protected_raw else {}
    if not isinstance(protected, dict):
        raise CodeError(CODE_MALFORMED, "protected header is not a map")
    return Sign1(protected_raw, protected, dict(unprotected), payload, signature)


def verify_signature(msg: Sign1, key: PublicKey, any_curve: bool = False) -> None:
    """Check ``msg``'s signature with ``key``; CodeError(code.bad_signature) if it does not hold.

    The algorithm must be one this module knows *and* fit the key type (an ECDSA signature
    is never checked with an RSA key), so a header cannot downgrade the check. ECDSA: the hash
    is the one the (signed) header names; the curve is the key's own, and the signature must be
    ``r || s`` of exactly twice its size. RFC 9053 only suggests pairing ES256 with P-256 and
    ES384 with P-384; ``any_curve=False`` insists on that pairing, ``True`` verifies on the
    key's own curve as the EU DCC reference validators do (docs/verification.md).
    """
    alg = msg.alg
    data = msg.to_be_signed()
    try:
        if alg in _ECDSA_HASH and isinstance(key, ec.EllipticCurvePublicKey):
            size = (key.curve.key_size + 7) // 8
            if not any_curve and key.curve.name != _PAIRED_CURVE[alg]:
                raise CodeError(CODE_BAD_SIGNATURE, f"{ALG_NAMES[alg]} needs its paired curve")
            if len(msg.signature) != 2 * size:
                raise CodeError(CODE_BAD_SIGNATURE, f"signature is not r||s of {size} bytes each")
            r = int.from_bytes(msg.signature[:size], "big")
            s = int.from_bytes(msg.signature[size:], "big")
            key.verify(encode_dss_signature(r, s), data, ec.ECDSA(_ECDSA_HASH[alg]()))
        elif alg == PS256 and isinstance(key, rsa.RSAPublicKey):
            pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
            key.verify(msg.signature, data, pss, hashes.SHA256())
        elif alg == EDDSA and isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(msg.signature, data)
        elif alg in ALG_NAMES:
            raise CodeError(CODE_BAD_SIGNATURE, f"{ALG_NAMES[alg]} does not fit the key type")
        else:
            raise CodeError(CODE_UNSUPPORTED_ALG, f"alg {alg!r}")
    except InvalidSignature:
        raise CodeError(CODE_BAD_SIGNATURE, "signature does not verify") from None


def sign1(payload: bytes, key: PrivateKey, kid: bytes) -> bytes:
    """A tagged COSE_Sign1 over ``payload`` with alg and kid in the protected header."""
    alg = EDDSA if isinstance(key, ed25519.Ed25519PrivateKey) else ES256
    protected_raw = cbor2.dumps({HDR_ALG: alg, HDR_KID: kid})
    data = sig_structure(protected_raw, payload)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        signature = key.sign(data)
    else:
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return cbor2.dumps(cbor2.CBORTag(TAG_SIGN1, [protected_raw, {}, payload, signature]))


def claims_of(msg: Sign1) -> dict[Any, Any]:
    """The CWT claims map in the payload; CodeError(code.malformed) if it is not a map."""
    claims = cbor_loads(msg.payload)
    if not isinstance(claims, dict):
        raise CodeError(CODE_MALFORMED, "CWT payload is not a map")
    return claims


def int_claim(claims: dict[Any, Any], key: Any) -> int:
    """A required unsigned integer time (seconds since the epoch); CodeError(code.malformed)
    if missing, not an integer (a float, even a whole one, is refused) or out of range."""
    value = claims.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_TIME:
        raise CodeError(CODE_MALFORMED, f"claim {key} must be an unsigned integer time")
    return value


def numeric_date(claims: dict[Any, Any], key: Any) -> float:
    """A required NumericDate as RFC 8392 §2 defines it: an integer or a floating-point number
    of seconds (tag 1 omitted, tolerated if present); CodeError(code.malformed) otherwise."""
    value = claims.get(key)
    if isinstance(value, cbor2.CBORTag) and value.tag == 1:
        value = value.value
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= MAX_TIME:
        raise CodeError(CODE_MALFORMED, f"claim {key} must be a NumericDate")
    return value


def utc_time(seconds: float) -> datetime:
    """A NumericDate as an aware datetime, without the platform's time_t (32-bit safe)."""
    return EPOCH + timedelta(seconds=seconds)


def check_period(iat: float, exp: float) -> None:
    """CodeError(code.malformed) unless ``exp`` is later than ``iat``: a claims check, made
    with the other claims and before any time is compared with now."""
    if exp <= iat:
        raise CodeError(CODE_MALFORMED, "expires before it was issued")


def check_times(iat: float, exp: float, now: datetime, skew_s: float) -> None:
    """CodeError unless ``iat - skew <= now <= exp``: code.not_yet_valid, then code.expired.

    ``exp`` itself is still valid: a code checked at exactly its expiry second passes, as the
    EU DCC reference validators do (expired means now is *after* exp).
    """
    t = now.timestamp()
    if iat > t + skew_s:
        raise CodeError(CODE_NOT_YET_VALID, "issued in the future")
    if t > exp:
        raise CodeError(CODE_EXPIRED, "past expiry")
