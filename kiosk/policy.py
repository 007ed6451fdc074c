"""The decision: verification + temperature + rules → PASS, DENY or SEE STAFF, with reason codes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

from kiosk.model import (
    CodeStatus,
    Decision,
    ItineraryStatus,
    Outcome,
    Temperature,
    TempState,
    Verification,
)
from kiosk.reasons import (
    CODE_EXPIRED,
    CODE_MALFORMED,
    CODE_MISSING,
    CODE_NOT_ACCEPTED,
    CODE_NOT_FOUND,
    CODE_RED,
    CODE_REVOCATIONS_STALE,
    CODE_REVOKED,
    CODE_STATUS_TOO_OLD,
    CODE_YELLOW,
    ITINERARY_MISSING,
    ITINERARY_STALE,
    ITINERARY_STARRED,
    TEMP_FEVER,
    TEMP_NOT_READY,
    TEMP_OUT_OF_RANGE,
    TEST_IN_FUTURE,
    TEST_MISSING,
    TEST_POSITIVE,
    TEST_TOO_OLD,
    TEST_UNKNOWN_RESULT,
    VACCINE_INSUFFICIENT,
)

#: Bumped whenever the logic below changes meaning; the rules' fingerprint follows it.
LOGIC_VERSION = (
    "4"  # 2: unreadable test results; 3: the itinerary card rules; 4: status age and revocations
)
#: A body temperature outside this range is a bad reading, not a fever or a pass.
PLAUSIBLE_C = (34.0, 43.0)
#: How far a test time may lie in the future before it is suspicious (clock skew).
FUTURE_SKEW = timedelta(minutes=10)

_VERIFIED = (CodeStatus.GREEN, CodeStatus.YELLOW, CodeStatus.RED)
_SEVERITY = {Outcome.PASS: 0, Outcome.REFER: 1, Outcome.DENY: 2}


class Rules(Protocol):
    """The rules the policy reads; ``kiosk.config.PolicySection`` is one."""

    @property
    def accepted_statuses(self) -> Sequence[str]: ...
    @property
    def fever_threshold_c(self) -> float: ...
    @property
    def max_test_age_h(self) -> int: ...
    @property
    def min_vaccine_doses(self) -> int: ...
    @property
    def unverified_outcome(self) -> str: ...
    @property
    def not_ready_outcome(self) -> str: ...
    @property
    def starred_itinerary(self) -> str: ...
    @property
    def max_itinerary_age_d(self) -> int: ...
    @property
    def max_status_age_h(self) -> int: ...
    @property
    def revoked_outcome(self) -> str: ...
    @property
    def max_list_age_h(self) -> int: ...
    @property
    def stale_list_outcome(self) -> str: ...


def policy_version(rules: Rules) -> str:
    """``<logic version>+<8 hex of the rules>``: two kiosks with equal versions decide alike."""
    doc = {
        "accepted": sorted(rules.accepted_statuses),
        "fever": rules.fever_threshold_c,
        "test_h": rules.max_test_age_h,
        "doses": rules.min_vaccine_doses,
        "unverified": rules.unverified_outcome,
        "not_ready": rules.not_ready_outcome,
        "starred": rules.starred_itinerary,
        "itinerary_d": rules.max_itinerary_age_d,
        "status_h": rules.max_status_age_h,
        "revoked": rules.revoked_outcome,
        "list_h": rules.max_list_age_h,
        "stale_list": rules.stale_list_outcome,
    }
    digest = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:8]
    return f"{LOGIC_VERSION}+{digest}"


def _never_pass(value: str) -> Outcome:
    """An outcome for what could not be checked: DENY if configured so, otherwise REFER."""
    return Outcome.DENY if value == Outcome.DENY.value else Outcome.REFER


def _code(v: Verification | None, rules: Rules, now: datetime) -> list[tuple[Outcome, str]]:
    if v is None:
        return [(_never_pass(rules.unverified_outcome), CODE_MISSING)]
    if not v.valid or v.status not in _VERIFIED:
        if v.status == CodeStatus.EXPIRED:
            return [(Outcome.DENY, CODE_EXPIRED)]
        if v.status == CodeStatus.NOT_FOUND:
            return [(Outcome.DENY, CODE_NOT_FOUND)]
        outcome = _never_pass(rules.unverified_outcome)
        return [(outcome, r) for r in v.reasons] or [(outcome, CODE_MALFORMED)]
    found: list[tuple[Outcome, str]] = []
    if v.status.value not in rules.accepted_statuses:
        colour = {CodeStatus.RED: CODE_RED, CodeStatus.YELLOW: CODE_YELLOW}
        found.append((Outcome.DENY, colour.get(v.status, CODE_NOT_ACCEPTED)))
    if v.test_result == "positive":
        found.append((Outcome.DENY, TEST_POSITIVE))
    elif v.test_result is not None and v.test_result != "negative":
        # an authentic test whose result the kiosk cannot read is not a negative test
        found.append((Outcome.REFER, TEST_UNKNOWN_RESULT))
    if v.test_at is not None and v.test_at > now + FUTURE_SKEW:
        found.append((Outcome.REFER, TEST_IN_FUTURE))
    if rules.max_test_age_h:
        if v.test_at is None or v.test_result not in ("negative", "positive"):
            found.append((Outcome.DENY, TEST_MISSING))
        elif now - v.test_at > timedelta(hours=rules.max_test_age_h):
            found.append((Outcome.DENY, TEST_TOO_OLD))
    if rules.min_vaccine_doses and (v.vaccine_doses or 0) < rules.min_vaccine_doses:
        found.append((Outcome.DENY, VACCINE_INSUFFICIENT))
    if rules.max_status_age_h and v.status_updated_at is not None:
        if now - v.status_updated_at > timedelta(hours=rules.max_status_age_h):
            found.append((Outcome.REFER, CODE_STATUS_TOO_OLD))
    return found + _revocation(v, rules, now) + _itinerary(v, rules, now)


def _revocation(v: Verification, rules: Rules, now: datetime) -> list[tuple[Outcome, str]]:
    """A revoked pass; a pass checked against a missing or stale list (``stale_list_outcome``)."""
    check = v.revocation
    if check is None:
        return []
    if check.revoked:
        return [(_never_pass(rules.revoked_outcome), CODE_REVOKED)]
    if rules.stale_list_outcome == "notice" or not rules.max_list_age_h:
        return []
    listed = check.list_issued_at
    if listed is None or now - listed > timedelta(hours=rules.max_list_age_h):
        return [(_never_pass(rules.stale_list_outcome), CODE_REVOCATIONS_STALE)]
    return []


def _itinerary(v: Verification, rules: Rules, now: datetime) -> list[tuple[Outcome, str]]:
    """The itinerary card of a verified code: starred, and (if required) present and recent.

    ``starred_itinerary`` is refer, deny or ignore. With ``max_itinerary_age_d`` set, a code
    without an itinerary, or with one older than that, cannot be checked for it: it gets
    ``unverified_outcome`` (refer or deny), like any other check that could not be made.
    """
    found: list[tuple[Outcome, str]] = []
    it = v.itinerary
    if it is not None and it.status is ItineraryStatus.STARRED:
        if rules.starred_itinerary != "ignore":
            found.append((_never_pass(rules.starred_itinerary), ITINERARY_STARRED))
    if rules.max_itinerary_age_d:
        if it is None:
            found.append((_never_pass(rules.unverified_outcome), ITINERARY_MISSING))
        elif now - it.updated_at > timedelta(days=rules.max_itinerary_age_d):
            found.append((_never_pass(rules.unverified_outcome), ITINERARY_STALE))
    return found


def _temperature(t: Temperature | None, rules: Rules) -> list[tuple[Outcome, str]]:
    if t is None or t.state not in (TempState.OK, TempState.FEVER) or t.value_c is None:
        return [(_never_pass(rules.not_ready_outcome), TEMP_NOT_READY)]
    if not PLAUSIBLE_C[0] <= t.value_c <= PLAUSIBLE_C[1]:
        return [(Outcome.REFER, TEMP_OUT_OF_RANGE)]
    if t.state == TempState.FEVER or t.value_c >= rules.fever_threshold_c:
        return [(Outcome.DENY, TEMP_FEVER)]
    return []


def decide(
    verification: Verification | None,
    temperature: Temperature | None,
    rules: Rules,
    now: datetime,
) -> Decision:
    """The verdict: PASS only if the code is verified, accepted and every rule holds.

    Every finding adds a reason; the outcome is the most severe one (DENY over SEE STAFF over
    PASS). A missing or unverifiable code and a thermometer that is not ready give the
    configured ``unverified_outcome`` / ``not_ready_outcome``, which can only be refer or deny.
    Pure: no I/O, no clock (``now`` is given), the same inputs always give the same Decision.
    """
    found = _code(verification, rules, now) + _temperature(temperature, rules)
    outcome = max((o for o, _ in found), key=_SEVERITY.__getitem__, default=Outcome.PASS)
    reasons = tuple(dict.fromkeys(r for _, r in found))
    return Decision(outcome=outcome, reasons=reasons, policy_version=policy_version(rules))
