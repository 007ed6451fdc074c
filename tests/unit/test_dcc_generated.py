"""EU DCCs signed here, one per point of the standard the shared data does not cover, through
the library: each gives the reference validators' result at its exact expiry second, and is
expired one second later; the policy decides what an unknown test result means."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from typing import Any

import pytest
from cryptography import x509

from kiosk.codes import dcc
from kiosk.codes.cose import utc_time
from kiosk.codes.errors import CodeError
from kiosk.codes.privacy import SubjectHasher
from kiosk.codes.trust import TrustList, trusted_cert
from kiosk.config import PolicySection
from kiosk.model import Outcome, Temperature, TempState, Verification, utc_iso
from kiosk.policy import decide
from tests.dcc_support import (
    EXP,
    GeneratedDcc,
    generated_dccs,
    masked_from_nam,
    name_parts,
    signers,
)

HASHER = SubjectHasher(b"k" * 32)


def _trust() -> TrustList:
    found: dict[bytes, tuple[Any, ...]] = {}
    for signer in signers().trusted():
        cert = trusted_cert(x509.load_der_x509_certificate(signer.cert_der), "generated")
        found[cert.kid] = (*found.get(cert.kid, ()), cert)
    return TrustList(found)


def _verify(case: GeneratedDcc, seconds: float) -> dict[str, Any]:
    """The verification as the CLI prints it (the same fields), or the refusal."""
    try:
        v = dcc.verify(case.text, _trust(), utc_time(seconds), HASHER)
    except CodeError as exc:
        return {"valid": False, "status": "failed", "reasons": [exc.reason]}
    doc = {f.name: getattr(v, f.name) for f in dataclasses.fields(v)}
    doc["status"] = v.status.value
    doc["reasons"] = list(v.reasons)
    doc["test_at"] = utc_iso(v.test_at) if v.test_at else None
    return doc


@pytest.mark.parametrize("case", generated_dccs(), ids=lambda c: c.name)
def test_generated_dcc_gives_the_reference_result(case: GeneratedDcc) -> None:
    at_exp = _verify(case, EXP)
    assert {k: at_exp.get(k) for k in case.expected} == case.expected, case.why
    later = _verify(case, EXP + 1)
    if case.authentic:
        assert at_exp["masked_name"] == masked_from_nam(case.nam)
        assert (later["valid"], later["status"], later["reasons"]) == (
            False, "expired", ["code.expired"]
        )  # fmt: skip
        printed = json.dumps(at_exp, default=str, ensure_ascii=False)
        for part in name_parts(case.nam):
            assert part not in printed, (case.name, part)
    else:
        assert later == at_exp  # refused for what it is, whatever the time


def test_a_time_part_in_dob_names_the_same_holder() -> None:
    by_name = {c.name: c for c in generated_dccs()}
    with_time = dcc.verify(by_name["dob-with-time"].text, _trust(), utc_time(EXP), HASHER)
    plain = dcc.verify(by_name["baseline"].text, _trust(), utc_time(EXP), HASHER)
    assert with_time.subject_hash == plain.subject_hash is not None


def test_an_unknown_test_result_is_not_a_negative_test() -> None:
    case = next(c for c in generated_dccs() if c.name == "unknown-test-result")
    v: Verification = dcc.verify(case.text, _trust(), utc_time(EXP), HASHER)
    assert v.valid and v.test_result == "unknown"
    now = v.test_at + timedelta(hours=1)  # type: ignore[operator]
    ok = Temperature(TempState.OK, value_c=36.5)
    for rules, outcome in (
        (PolicySection(), Outcome.REFER),
        (PolicySection(max_test_age_h=72), Outcome.DENY),
    ):
        decision = decide(v, ok, rules, now)
        assert decision.outcome is outcome and "test.unknown_result" in decision.reasons
