"""EU Digital COVID Certificate (``HC1:``): envelope, COSE_Sign1 (ECDSA/PS256), CWT, hcert."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from kiosk.codes.cose import (
    CLAIM_EXP,
    CLAIM_IAT,
    CLAIM_ISS,
    ES256,
    ES384,
    ES512,
    PS256,
    check_period,
    check_times,
    claims_of,
    numeric_date,
    parse_sign1,
    utc_time,
)
from kiosk.codes.envelope import unwrap
from kiosk.codes.errors import CodeError
from kiosk.codes.hcert import dgc_of, parse_dgc
from kiosk.codes.privacy import mask_name
from kiosk.codes.trust import TrustList, verify_any
from kiosk.model import CodeStatus, Verification
from kiosk.reasons import (
    CODE_EXPIRED,
    CODE_KEY_NOT_VALID,
    CODE_UNKNOWN_KEY,
    CODE_UNSUPPORTED_ALG,
    CODE_WRONG_USAGE,
)

KIND = "eu-dcc"
PREFIX = "HC1:"

Hasher = Callable[[str, str], str | None]
#: Signature algorithms accepted on a DCC: ECDSA verified on the signer key's own curve with the
#: hash the header names (as the reference validators do), and RSASSA-PSS (docs/verification.md).
ALGORITHMS = (ES256, ES384, ES512, PS256)


def looks_like(text: str) -> bool:
    return text.startswith(PREFIX)


def verify(
    text: str, trust: TrustList, now: datetime, hasher: Hasher, skew_s: float = 300.0
) -> Verification:
    """Verify an EU DCC; CodeError with the first failed check's reason code.

    The key id is taken from the protected header, else the unprotected one, and every
    trusted certificate with that key id is tried. The signer's certificate must have been
    valid when the DCC was issued and, if it carries DCC key usages, allow the DCC's type.
    The payload is judged by the schema version it declares (``hcert.parse_dgc``). A DCC
    after its expiry second returns an authentic ``expired`` verification.
    """
    msg = parse_sign1(unwrap(text, PREFIX))
    if msg.alg not in ALGORITHMS:
        raise CodeError(CODE_UNSUPPORTED_ALG, f"alg {msg.alg!r}")
    candidates = trust.lookup(msg.kid)
    if not candidates:
        raise CodeError(CODE_UNKNOWN_KEY, "no trusted signer with this key id")
    cert = verify_any(msg, candidates, any_curve=True)
    cwt = claims_of(msg)
    iat = numeric_date(cwt, CLAIM_IAT)
    exp = numeric_date(cwt, CLAIM_EXP)
    check_period(iat, exp)
    issued = utc_time(iat)
    if not cert.valid_at(issued):
        raise CodeError(CODE_KEY_NOT_VALID, "signer certificate not valid at issue time")
    facts = parse_dgc(dgc_of(cwt))
    if cert.usages is not None and facts.kind not in cert.usages:
        raise CodeError(CODE_WRONG_USAGE, f"signer may not sign type {facts.kind}")
    expired = False
    try:
        check_times(iat, exp, now, skew_s)
    except CodeError as exc:
        if exc.reason != CODE_EXPIRED:
            raise
        expired = True
    iss = cwt.get(CLAIM_ISS)
    return Verification(
        kind=KIND,
        status=CodeStatus.EXPIRED if expired else CodeStatus.GREEN,
        valid=not expired,
        reasons=(CODE_EXPIRED,) if expired else (),
        masked_name=mask_name(f"{facts.given_name} {facts.family_name}"),
        subject_hash=hasher("dcc", facts.subject),
        issuer=iss if isinstance(iss, str) and len(iss) <= 8 else None,
        issued_at=issued,
        expires_at=utc_time(exp),
        test_at=facts.test_at,
        test_result=facts.test_result,
        vaccine_doses=facts.vaccine_doses,
    )
