"""Signed county lists (revocations, trust): the COSE_Sign1 envelope both share, and why one is
refused. Pure: bytes and trust in, a checked list or ``ListRefused`` out (docs/county-pass.md)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import cbor2

from kiosk.codes.cose import (
    CLAIM_IAT,
    CLAIM_ISS,
    EDDSA,
    ES256,
    PrivateKey,
    Sign1,
    claims_of,
    int_claim,
    parse_sign1,
    sign1,
    utc_time,
)
from kiosk.codes.errors import CodeError
from kiosk.codes.trust import TrustedCert, verify_any
from kiosk.reasons import CODE_UNSUPPORTED_ALG

#: Largest list a kiosk accepts, in bytes (a 100,000-entry revocation list is about 2.4 MB).
MAX_LIST_BYTES = 32 * 1024 * 1024
FORMAT_VERSION = 1

# Why a list was refused: stable codes for logs, the staff page and /api/status.
LIST_MALFORMED = "list.malformed"  # not COSE/CBOR, truncated, a member missing or wrong
LIST_TOO_LARGE = "list.too_large"
LIST_WRONG_COUNTY = "list.wrong_county"
LIST_UNKNOWN_KEY = "list.unknown_key"
LIST_BAD_SIGNATURE = "list.bad_signature"
LIST_KEY_NOT_VALID = "list.key_not_valid"
LIST_IN_FUTURE = "list.in_future"
LIST_OLDER = "list.older"  # a replay: older than the list in force
LIST_CONFLICT = "list.conflict"  # same issue time as the list in force, different content

REFUSALS = {
    LIST_MALFORMED: "名单格式错误或不完整 / list malformed or truncated",
    LIST_TOO_LARGE: "名单过大 / list too large",
    LIST_WRONG_COUNTY: "名单不属于本县 / list of another county",
    LIST_UNKNOWN_KEY: "签名密钥不受信任 / signed by a key this kiosk does not trust",
    LIST_BAD_SIGNATURE: "签名无效 / signature does not verify",
    LIST_KEY_NOT_VALID: "签名证书在签发时无效 / certificate not valid at the issue time",
    LIST_IN_FUTURE: "签发时间在未来 / issued in the future",
    LIST_OLDER: "比现用名单旧（重放） / older than the list in force (replay)",
    LIST_CONFLICT: "与现用名单签发时间相同但内容不同 / same issue time, other content",
}


class ListRefused(Exception):
    """A list failed a check; ``reason`` is one of the ``LIST_*`` codes. No list content."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Envelope:
    """A verified list envelope: who signed it, when, with which key, and its body map."""

    issuer: str
    iat: int
    kid: bytes
    body: dict[Any, Any]
    raw: bytes

    @property
    def issued_at(self) -> datetime:
        return utc_time(self.iat)

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()


Candidates = Callable[[bytes | None], Iterable[TrustedCert]]


def seal(
    claim: int, body: dict[str, Any], issuer: str, issued_at: datetime, key: PrivateKey, kid: bytes
) -> bytes:
    """A tagged COSE_Sign1 over ``{iss, iat, claim: body}``, deterministically encoded."""
    payload = {
        CLAIM_ISS: issuer,
        CLAIM_IAT: int(issued_at.timestamp()),
        claim: {"v": FORMAT_VERSION, **body},
    }
    return sign1(cbor2.dumps(payload, canonical=True), key, kid)


def _sign1(data: bytes) -> Sign1:
    if len(data) > MAX_LIST_BYTES:
        raise ListRefused(LIST_TOO_LARGE, f"{len(data)} bytes")
    try:
        msg = parse_sign1(data)
        if msg.alg not in (ES256, EDDSA):
            raise CodeError(CODE_UNSUPPORTED_ALG, f"alg {msg.alg!r}")
        return msg
    except CodeError as exc:
        raise ListRefused(LIST_MALFORMED, exc.detail or exc.reason) from None


def open_list(
    data: bytes, claim: int, county_id: str, candidates: Candidates, now: datetime, skew_s: float
) -> Envelope:
    """Check a list's envelope: structure, county, issue time, key and signature.

    ``candidates(kid)`` gives the certificates that may sign this kind of list. Raises
    ``ListRefused`` naming the first failed check; never returns an unchecked body.
    """
    msg = _sign1(data)
    try:
        claims = claims_of(msg)
        iat = int_claim(claims, CLAIM_IAT)
    except CodeError as exc:
        raise ListRefused(LIST_MALFORMED, exc.detail) from None
    if claims.get(CLAIM_ISS) != county_id:
        raise ListRefused(LIST_WRONG_COUNTY, f"expected issuer {county_id}")
    body = claims.get(claim)
    if not isinstance(body, dict) or body.get("v") != FORMAT_VERSION:
        raise ListRefused(LIST_MALFORMED, f"claim {claim} missing or not version {FORMAT_VERSION}")
    trusted = list(candidates(msg.kid))
    if not trusted:
        raise ListRefused(LIST_UNKNOWN_KEY, "no trusted certificate with this key id")
    try:
        cert = verify_any(msg, trusted)
    except CodeError as exc:
        raise ListRefused(LIST_BAD_SIGNATURE, exc.detail) from None
    if not cert.valid_at(utc_time(iat)):
        raise ListRefused(LIST_KEY_NOT_VALID)
    if iat > now.timestamp() + skew_s:
        raise ListRefused(LIST_IN_FUTURE)
    return Envelope(county_id, iat, msg.kid or b"", body, data)


def supersedes(held: Envelope | None, new: Envelope) -> bool:
    """True if ``new`` replaces ``held``; False if it is the list already in force.

    ``ListRefused(list.older)`` for a replayed older list, ``list.conflict`` for another list
    with the same issue time (the county signs each list with a new issue time).
    """
    if held is None or new.iat > held.iat:
        return True
    if new.iat == held.iat:
        if new.digest == held.digest:
            return False
        raise ListRefused(LIST_CONFLICT, f"issue time {new.iat}")
    raise ListRefused(LIST_OLDER, f"issued {new.iat}, list in force {held.iat}")
