"""The county offline pass (docs/county-pass.md): issue and verify ``CP1:`` codes."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

import cbor2

from kiosk.codes.cose import (
    CLAIM_CTI,
    CLAIM_EXP,
    CLAIM_IAT,
    CLAIM_ISS,
    CLAIM_SUB,
    EDDSA,
    ES256,
    Sign1,
    check_period,
    check_times,
    claims_of,
    int_claim,
    parse_sign1,
    sign1,
    utc_time,
)
from kiosk.codes.envelope import unwrap, wrap
from kiosk.codes.errors import CodeError
from kiosk.codes.keys import IssuerKey
from kiosk.codes.privacy import looks_like_id_number, mask_name
from kiosk.codes.trust import TrustList, verify_any
from kiosk.model import (
    CodeStatus,
    Itinerary,
    ItineraryStatus,
    PassClaims,
    RevocationCheck,
    Verification,
)
from kiosk.reasons import (
    CODE_EXPIRED,
    CODE_KEY_NOT_VALID,
    CODE_MALFORMED,
    CODE_UNKNOWN_ISSUER,
    CODE_UNKNOWN_KEY,
    CODE_UNSUPPORTED_ALG,
)

KIND = "county-pass"
PREFIX = "CP1:"
#: Private-use CWT claim key (RFC 8392 §4: integers below -65536) holding the health claims.
CLAIM_HEALTH = -65537
SUBJECT_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,128}")
COLOURS = {"green": CodeStatus.GREEN, "yellow": CodeStatus.YELLOW, "red": CodeStatus.RED}
TEST_RESULTS = ("negative", "positive")

Hasher = Callable[[str, str], str | None]
#: Looks an authentic pass up in its county's revocation list; None if no list covers it.
Revocations = Callable[[PassClaims], RevocationCheck | None]
PASS_ID_PATTERN = re.compile(r"(?:[0-9a-f]{2}){8,32}")


def _epoch(ts: datetime) -> int:
    return int(ts.timestamp())


def _time(value: int) -> datetime:
    return utc_time(value)


def encode_claims(claims: PassClaims) -> bytes:
    """The CWT claims map of a pass, deterministically encoded (RFC 8949 §4.2.1)."""
    health: dict[str, Any] = {
        "n": claims.masked_name,
        "s": claims.status.value,
        "su": _epoch(claims.status_updated_at),
    }
    if claims.test_at is not None and claims.test_result is not None:
        health["na"] = {"t": _epoch(claims.test_at), "r": claims.test_result}
    if claims.vaccine_doses is not None:
        health["vd"] = claims.vaccine_doses
    if claims.itinerary is not None:
        it = claims.itinerary
        health["it"] = {"s": it.status.value, "u": _epoch(it.updated_at)}
    cwt = {
        CLAIM_ISS: claims.issuer,
        CLAIM_SUB: claims.subject_key,
        CLAIM_EXP: _epoch(claims.expires_at),
        CLAIM_IAT: _epoch(claims.issued_at),
        CLAIM_HEALTH: health,
    }
    if claims.pass_id is not None:
        cwt[CLAIM_CTI] = bytes.fromhex(claims.pass_id)
    return cbor2.dumps(cwt, canonical=True)


def issue(claims: PassClaims, key: IssuerKey) -> str:
    """Sign ``claims`` with the county's key and return the QR text (``CP1:...``).

    ValueError if the claims would not verify (bad subject key, unmasked name, wrong issuer).
    """
    if claims.issuer != key.issuer:
        raise ValueError(f'the key belongs to issuer "{key.issuer}", not "{claims.issuer}"')
    if not SUBJECT_PATTERN.fullmatch(claims.subject_key) or looks_like_id_number(
        claims.subject_key
    ):
        raise ValueError("subject key must be 16-128 of [A-Za-z0-9_-] and not an ID number")
    if mask_name(claims.masked_name) != claims.masked_name:
        raise ValueError("the name in a pass must be masked (see kiosk.codes.privacy.mask_name)")
    if claims.status not in COLOURS.values():
        raise ValueError("a pass carries green, yellow or red")
    if claims.test_result is not None and claims.test_result not in TEST_RESULTS:
        raise ValueError("test result must be negative or positive")
    if claims.pass_id is not None and not PASS_ID_PATTERN.fullmatch(claims.pass_id):
        raise ValueError("a pass id is 8-32 bytes as lowercase hex")
    parse_claims(cbor2.loads(encode_claims(claims)))  # the same checks a kiosk makes
    return wrap(sign1(encode_claims(claims), key.private_key, key.kid), PREFIX)


def _text(value: Any, what: str, limit: int = 64) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= limit:
        raise CodeError(CODE_MALFORMED, f"{what} must be text of 1-{limit} characters")
    return value


def parse_claims(cwt: dict[Any, Any]) -> PassClaims:
    """Check and read the claims map; CodeError(code.malformed) naming the claim at fault."""
    issuer = _text(cwt.get(CLAIM_ISS), "iss", 32)
    subject = _text(cwt.get(CLAIM_SUB), "sub", 128)
    if not SUBJECT_PATTERN.fullmatch(subject) or looks_like_id_number(subject):
        raise CodeError(CODE_MALFORMED, "sub is not a subject key")
    iat = int_claim(cwt, CLAIM_IAT)
    exp = int_claim(cwt, CLAIM_EXP)
    check_period(iat, exp)
    health = cwt.get(CLAIM_HEALTH)
    if not isinstance(health, dict):
        raise CodeError(CODE_MALFORMED, "health claim missing")
    colour = health.get("s")
    status = COLOURS.get(colour) if isinstance(colour, str) else None
    if status is None:
        raise CodeError(CODE_MALFORMED, "status must be green, yellow or red")
    name = _text(health.get("n"), "name")
    updated = int_claim(health, "su")
    test_at = test_result = None
    test = health.get("na")
    if test is not None:
        if not isinstance(test, dict) or test.get("r") not in TEST_RESULTS:
            raise CodeError(CODE_MALFORMED, "na must hold a time and negative/positive")
        test_at, test_result = _time(int_claim(test, "t")), str(test["r"])
    doses = health.get("vd")
    if doses is not None and (
        isinstance(doses, bool) or not isinstance(doses, int) or not 0 <= doses <= 20
    ):
        raise CodeError(CODE_MALFORMED, "vd must be a dose count 0-20")
    cti = cwt.get(CLAIM_CTI)
    if cti is not None and not (isinstance(cti, bytes) and 8 <= len(cti) <= 32):
        raise CodeError(CODE_MALFORMED, "cti must be 8-32 bytes")
    return PassClaims(
        issuer=issuer,
        subject_key=subject,
        masked_name=mask_name(name) or "*",
        status=status,
        status_updated_at=_time(updated),
        issued_at=_time(iat),
        expires_at=_time(exp),
        test_at=test_at,
        test_result=test_result,
        vaccine_doses=doses,
        itinerary=_itinerary(health.get("it")),
        pass_id=cti.hex() if cti is not None else None,
    )


def _itinerary(claim: Any) -> Itinerary | None:
    """The optional itinerary claim ``it`` (spec 1.1): ``{"s": normal|starred, "u": uint}``."""
    if claim is None:
        return None
    statuses = {s.value: s for s in ItineraryStatus}
    status = claim.get("s") if isinstance(claim, dict) else None
    if not isinstance(status, str) or status not in statuses:
        raise CodeError(CODE_MALFORMED, "it must hold s = normal or starred and a time u")
    return Itinerary(statuses[status], _time(int_claim(claim, "u")))


def verify(
    text: str,
    trust: TrustList,
    now: datetime,
    hasher: Hasher,
    skew_s: float = 300.0,
    revocations: Revocations | None = None,
) -> Verification:
    """Verify a county pass; CodeError with the first failed check's reason code.

    Order: envelope, COSE structure, algorithm, issuer known, key id known for that issuer,
    signature, certificate valid at issue time, claims, then issue/expiry against ``now``.
    An expired pass returns (not raises) an authentic ``expired`` verification. An authentic
    pass is then looked up in ``revocations``; the policy turns the result into a verdict.
    """
    msg: Sign1 = parse_sign1(unwrap(text, PREFIX))
    if msg.alg not in (ES256, EDDSA):
        raise CodeError(CODE_UNSUPPORTED_ALG, f"alg {msg.alg!r}")
    cwt = claims_of(msg)
    issuer = cwt.get(CLAIM_ISS)
    if not isinstance(issuer, str) or issuer not in trust.issuers:
        raise CodeError(CODE_UNKNOWN_ISSUER, "issuer not in the county trust list")
    candidates = [c for c in trust.lookup(msg.kid) if c.subject_cn == issuer]
    if not candidates:
        raise CodeError(CODE_UNKNOWN_KEY, "no trusted key with this kid for the issuer")
    cert = verify_any(msg, candidates)
    claims = parse_claims(cwt)
    if not cert.valid_at(claims.issued_at):
        raise CodeError(CODE_KEY_NOT_VALID, "certificate not valid at issue time")
    expired = False
    try:
        check_times(_epoch(claims.issued_at), _epoch(claims.expires_at), now, skew_s)
    except CodeError as exc:
        if exc.reason != CODE_EXPIRED:
            raise
        expired = True
    return Verification(
        kind=KIND,
        status=CodeStatus.EXPIRED if expired else claims.status,
        valid=not expired,
        reasons=(CODE_EXPIRED,) if expired else (),
        masked_name=claims.masked_name,
        subject_hash=hasher(f"county:{claims.issuer}", claims.subject_key),
        issuer=claims.issuer,
        issued_at=claims.issued_at,
        expires_at=claims.expires_at,
        status_updated_at=claims.status_updated_at,
        test_at=claims.test_at,
        test_result=claims.test_result,
        vaccine_doses=claims.vaccine_doses,
        itinerary=claims.itinerary,
        revocation=revocations(claims) if revocations is not None else None,
    )


def looks_like(text: str) -> bool:
    return text.startswith(PREFIX)
