"""The policy, as a table that covers every reason code, plus the never-pass guarantees."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.config import PolicySection
from kiosk.model import (
    CodeStatus,
    Itinerary,
    ItineraryStatus,
    Outcome,
    RevocationCheck,
    Temperature,
    TempState,
    Verification,
)
from kiosk.policy import decide, policy_version
from kiosk.reasons import MANUAL, REASONS, describe

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
P, D, R = Outcome.PASS, Outcome.DENY, Outcome.REFER
OK = Temperature(TempState.OK, value_c=36.6)
GREEN = Verification(
    "county-pass", CodeStatus.GREEN, True, test_at=NOW - timedelta(hours=20),
    test_result="negative", vaccine_doses=3,
)  # fmt: skip


def v(**changes: Any) -> Verification:
    return dataclasses.replace(GREEN, **changes)


def failed(reason: str, status: CodeStatus = CodeStatus.FAILED) -> Verification:
    return Verification("county-pass", status, False, (reason,))


def t(state: TempState, value: float | None = None) -> Temperature:
    return Temperature(state, value_c=value)


VERIFIER_REASONS = [
    "code.unknown_format", "code.bad_encoding", "code.malformed", "code.unsupported_alg",
    "code.unknown_key", "code.unknown_issuer", "code.key_not_valid", "code.bad_signature",
    "code.wrong_usage", "code.not_yet_valid", "verify.not_configured", "verify.unreachable",
    "verify.tls", "verify.unauthorized", "verify.server_error", "verify.bad_response",
]  # fmt: skip

# (verification, temperature, rule changes, outcome, reasons)
Row = tuple[Verification | None, Temperature | None, dict[str, Any], Outcome, tuple[str, ...]]
TABLE: list[Row] = [
    (GREEN, OK, {}, P, ()),
    (GREEN, t(TempState.OK, 37.2), {}, P, ()),
    (GREEN, t(TempState.OK, 37.3), {}, D, ("temp.fever",)),
    (GREEN, t(TempState.FEVER, 38.4), {}, D, ("temp.fever",)),
    (GREEN, t(TempState.OK, 37.6), {"fever_threshold_c": 37.8}, P, ()),
    (GREEN, t(TempState.OK, 31.0), {}, R, ("temp.out_of_range",)),
    (GREEN, t(TempState.OK, 45.0), {}, R, ("temp.out_of_range",)),
    (GREEN, None, {}, R, ("temp.not_ready",)),
    (GREEN, t(TempState.MEASURING), {}, R, ("temp.not_ready",)),
    (GREEN, t(TempState.NO_SUBJECT), {}, R, ("temp.not_ready",)),
    (GREEN, t(TempState.NOT_READY), {"not_ready_outcome": "deny"}, D, ("temp.not_ready",)),
    (GREEN, t(TempState.OK, None), {}, R, ("temp.not_ready",)),
    (None, OK, {}, R, ("code.missing",)),
    (None, OK, {"unverified_outcome": "deny"}, D, ("code.missing",)),
    (None, None, {}, R, ("code.missing", "temp.not_ready")),
    (v(status=CodeStatus.RED), OK, {}, D, ("code.red",)),
    (v(status=CodeStatus.YELLOW), OK, {}, D, ("code.yellow",)),
    (v(status=CodeStatus.YELLOW), OK, {"accepted_statuses": ("green", "yellow")}, P, ()),
    (v(status=CodeStatus.RED), OK, {"accepted_statuses": ("green", "yellow")}, D, ("code.red",)),
    (GREEN, OK, {"accepted_statuses": ("yellow",)}, D, ("code.not_accepted",)),
    (failed("code.expired", CodeStatus.EXPIRED), OK, {}, D, ("code.expired",)),
    (failed("code.not_found", CodeStatus.NOT_FOUND), OK, {}, D, ("code.not_found",)),
    (failed("verify.timeout", CodeStatus.TIMEOUT), OK, {}, R, ("verify.timeout",)),
    (
        failed("verify.timeout", CodeStatus.TIMEOUT),
        OK,
        {"unverified_outcome": "deny"},
        D,
        ("verify.timeout",),
    ),
    (
        failed("verify.timeout", CodeStatus.TIMEOUT),
        t(TempState.FEVER, 38.0),
        {},
        D,
        ("verify.timeout", "temp.fever"),
    ),
    (v(test_result="positive"), OK, {}, D, ("test.positive",)),
    (v(test_at=NOW + timedelta(hours=2)), OK, {}, R, ("test.in_future",)),
    # an EU DCC test result outside today's value set: not a negative test
    (v(test_result="unknown"), OK, {}, R, ("test.unknown_result",)),
    (
        v(test_result="unknown"),
        OK,
        {"max_test_age_h": 48},
        D,
        ("test.unknown_result", "test.missing"),
    ),
    (v(test_at=None, test_result=None), OK, {"max_test_age_h": 48}, D, ("test.missing",)),
    (v(test_at=NOW - timedelta(hours=49)), OK, {"max_test_age_h": 48}, D, ("test.too_old",)),
    (v(test_at=NOW - timedelta(hours=47)), OK, {"max_test_age_h": 48}, P, ()),
    (v(test_at=NOW - timedelta(hours=25)), OK, {"max_test_age_h": 24}, D, ("test.too_old",)),
    (v(test_at=NOW - timedelta(hours=71)), OK, {"max_test_age_h": 72}, P, ()),
    (v(vaccine_doses=2), OK, {"min_vaccine_doses": 3}, D, ("vaccine.insufficient",)),
    (v(vaccine_doses=None), OK, {"min_vaccine_doses": 1}, D, ("vaccine.insufficient",)),
    (v(vaccine_doses=3), OK, {"min_vaccine_doses": 3}, P, ()),
    (
        v(status=CodeStatus.RED, test_result="positive"),
        t(TempState.FEVER, 38.9),
        {},
        D,
        ("code.red", "test.positive", "temp.fever"),
    ),
    (Verification("unknown", CodeStatus.FAILED, False, ()), OK, {}, R, ("code.malformed",)),
    (
        Verification("eu-dcc", CodeStatus.GREEN, False, ("code.bad_signature",)),
        OK,
        {},
        R,
        ("code.bad_signature",),
    ),
] + [(failed(r), OK, {}, R, (r,)) for r in VERIFIER_REASONS]

HOUR = timedelta(hours=1)
FRESH = RevocationCheck(revoked=False, list_issued_at=NOW - 2 * HOUR)
REVOKED = RevocationCheck(revoked=True, list_issued_at=NOW - 2 * HOUR)
# status age (``su``): default 72 h, 0 = off; revocation list: revoked, fresh, stale, missing
TABLE += [
    (v(status_updated_at=NOW - 71 * HOUR), OK, {}, P, ()),
    (v(status_updated_at=NOW - 72 * HOUR), OK, {}, P, ()),
    (v(status_updated_at=NOW - 73 * HOUR), OK, {}, R, ("code.status_too_old",)),
    (v(status_updated_at=NOW - 25 * HOUR), OK, {"max_status_age_h": 24}, R,
     ("code.status_too_old",)),
    (v(status_updated_at=NOW - 900 * HOUR), OK, {"max_status_age_h": 0}, P, ()),
    (v(status_updated_at=NOW - 73 * HOUR, status=CodeStatus.RED), OK, {}, D,
     ("code.red", "code.status_too_old")),
    (v(status_updated_at=None), OK, {"max_status_age_h": 1}, P, ()),
    (v(revocation=FRESH), OK, {}, P, ()),
    (v(revocation=REVOKED), OK, {}, D, ("code.revoked",)),
    (v(revocation=REVOKED), OK, {"revoked_outcome": "refer"}, R, ("code.revoked",)),
    (v(revocation=REVOKED), t(TempState.FEVER, 38.2), {}, D, ("code.revoked", "temp.fever")),
    (v(revocation=RevocationCheck(False, NOW - 49 * HOUR)), OK, {}, R,
     ("code.revocations_stale",)),
    (v(revocation=RevocationCheck(False, NOW - 47 * HOUR)), OK, {}, P, ()),
    (v(revocation=RevocationCheck(False, None)), OK, {}, R, ("code.revocations_stale",)),
    (v(revocation=RevocationCheck(False, None)), OK, {"stale_list_outcome": "deny"}, D,
     ("code.revocations_stale",)),
    (v(revocation=RevocationCheck(False, None)), OK, {"stale_list_outcome": "notice"}, P, ()),
    (v(revocation=RevocationCheck(False, NOW - 999 * HOUR)), OK, {"max_list_age_h": 0}, P, ()),
    (v(revocation=RevocationCheck(True, NOW - 999 * HOUR)), OK, {"max_list_age_h": 0}, D,
     ("code.revoked",)),
]  # fmt: skip


def it(status: str, days_ago: float = 1.0) -> Itinerary:
    return Itinerary(ItineraryStatus(status), NOW - timedelta(days=days_ago))


NORMAL_IT, STARRED = v(itinerary=it("normal")), v(itinerary=it("starred"))
SEVEN = {"max_itinerary_age_d": 7}
ITINERARY_TABLE: list[Row] = [
    (NORMAL_IT, OK, {}, P, ()),
    (STARRED, OK, {}, R, ("itinerary.starred",)),
    (STARRED, OK, {"starred_itinerary": "refer"}, R, ("itinerary.starred",)),
    (STARRED, OK, {"starred_itinerary": "deny"}, D, ("itinerary.starred",)),
    (STARRED, OK, {"starred_itinerary": "ignore"}, P, ()),
    (STARRED, t(TempState.FEVER, 38.2), {}, D, ("itinerary.starred", "temp.fever")),
    (STARRED, None, {}, R, ("itinerary.starred", "temp.not_ready")),
    (v(status=CodeStatus.RED, itinerary=it("starred")), OK, {}, D,
     ("code.red", "itinerary.starred")),
    (GREEN, OK, {}, P, ()),  # a pass without it (spec 1.0) stays valid when no age is required
    (GREEN, OK, SEVEN, R, ("itinerary.missing",)),
    (GREEN, OK, {**SEVEN, "unverified_outcome": "deny"}, D, ("itinerary.missing",)),
    (v(itinerary=it("normal", 6.9)), OK, SEVEN, P, ()),
    (v(itinerary=it("normal", 7.1)), OK, SEVEN, R, ("itinerary.stale",)),
    (v(itinerary=it("normal", 7.1)), OK, {**SEVEN, "unverified_outcome": "deny"}, D,
     ("itinerary.stale",)),
    (v(itinerary=it("starred", 10)), OK, SEVEN, R, ("itinerary.starred", "itinerary.stale")),
    (v(itinerary=it("starred", 10)), OK, {**SEVEN, "starred_itinerary": "deny"}, D,
     ("itinerary.starred", "itinerary.stale")),
    (v(itinerary=it("starred", 10)), OK, {**SEVEN, "starred_itinerary": "ignore"}, R,
     ("itinerary.stale",)),
    # an unverified code's itinerary is not read at all: the code's own reason decides
    (Verification("online-token", CodeStatus.FAILED, False, ("verify.timeout",),
                  itinerary=it("starred")), OK, SEVEN, R, ("verify.timeout",)),
]  # fmt: skip
TABLE += ITINERARY_TABLE


@pytest.mark.parametrize(("verification", "temp", "changes", "outcome", "reasons"), TABLE)
def test_policy_table(
    verification: Verification | None,
    temp: Temperature | None,
    changes: dict[str, Any],
    outcome: Outcome,
    reasons: tuple[str, ...],
) -> None:
    rules = PolicySection(**changes)
    decision = decide(verification, temp, rules, NOW)
    assert (decision.outcome, decision.reasons) == (outcome, reasons)
    assert decision.policy_version == policy_version(rules)


def test_the_table_covers_every_reason_code() -> None:
    covered = {r for row in TABLE for r in row[4]}
    assert covered == set(REASONS), set(REASONS) - covered


def test_every_reason_has_both_texts() -> None:
    for code, reason in REASONS.items():
        assert reason.code == code and reason.zh and reason.en
        assert any("\u4e00" <= ch <= "\u9fff" for ch in reason.zh), code
    assert "code.nope" in describe("code.nope").en


def test_policy_version_changes_with_the_rules() -> None:
    base = policy_version(PolicySection())
    assert base == policy_version(PolicySection()) and base.startswith("4+")
    assert base != policy_version(PolicySection(fever_threshold_c=37.5))
    assert base != policy_version(PolicySection(unverified_outcome="deny"))
    assert base != policy_version(PolicySection(starred_itinerary="deny"))
    assert base != policy_version(PolicySection(max_itinerary_age_d=7))
    assert base != policy_version(PolicySection(max_status_age_h=24))
    assert base != policy_version(PolicySection(stale_list_outcome="notice"))


STATUSES = list(CodeStatus)
TEMPS = [
    None,
    *(t(s) for s in TempState),
    *(t(s, x) for s in TempState for x in (36.5, 37.3, 39.0, 30.0)),
]
RULES = [
    PolicySection(accepted_statuses=a, unverified_outcome=u, not_ready_outcome=n, max_test_age_h=h)
    for a, u, n, h in itertools.product(
        [("green",), ("green", "yellow")], ["refer", "deny"], ["refer", "deny"], [0, 48]
    )
]  # fmt: skip


def test_nothing_unverified_or_not_ready_ever_passes() -> None:
    """Exhaustive over statuses, validity, temperature states and values, rule variants."""
    checked = 0
    for status, valid, reasons, temp, rules in itertools.product(
        STATUSES, [True, False], [(), ("code.bad_signature",)], TEMPS, RULES
    ):
        verification = Verification("county-pass", status, valid, reasons, test_at=NOW,
                                    test_result="negative")  # fmt: skip
        for code in (verification, None):
            decision = decide(code, temp, rules, NOW)
            verified = (
                code is not None and code.valid and code.status.value in rules.accepted_statuses
            )
            ready = (
                temp is not None and temp.state in (TempState.OK, TempState.FEVER) and temp.value_c
            )
            if not verified or not ready:
                assert decision.outcome is not Outcome.PASS, (code, temp, rules)
                assert decision.reasons
            checked += 1
    assert checked > 10_000


@given(
    status=st.sampled_from(STATUSES),
    valid=st.booleans(),
    value=st.none() | st.floats(allow_nan=True, allow_infinity=True),
    state=st.sampled_from(list(TempState)),
    doses=st.none() | st.integers(-5, 10),
    test_hours=st.none() | st.floats(-1000, 1000),
)
def test_pass_only_with_verified_green_and_a_normal_temperature(
    status: CodeStatus, valid: bool, value: float | None, state: TempState,
    doses: int | None, test_hours: float | None,
) -> None:  # fmt: skip
    test_at = None if test_hours is None else NOW - timedelta(hours=test_hours)
    code = Verification("eu-dcc", status, valid, test_at=test_at, test_result="negative",
                        vaccine_doses=doses)  # fmt: skip
    decision = decide(code, Temperature(state, value_c=value), PolicySection(), NOW)
    if decision.outcome is Outcome.PASS:
        assert valid and status is CodeStatus.GREEN and state is TempState.OK
        assert value is not None and 34.0 <= value < 37.3
        assert decision.reasons == ()
    else:
        assert decision.reasons


def test_docs_list_every_reason_code() -> None:
    from pathlib import Path

    doc = (Path(__file__).parents[2] / "docs" / "reasons.md").read_text(encoding="utf-8")
    for code, reason in {**REASONS, **MANUAL}.items():
        assert f"| `{code}` |" in doc and reason.zh in doc, code
