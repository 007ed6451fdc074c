"""The EU DCC payload (``hcert`` claim -260/1): judged by its schema version, and its facts."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kiosk.codes.dccschema import SchemaError, as_json, validate
from kiosk.codes.errors import CodeError
from kiosk.reasons import CODE_MALFORMED

CLAIM_HCERT = -260
#: A date of birth with a time part (``1964-08-12T00:00:00``): the date is what identifies.
_DOB_WITH_TIME = re.compile(r"((?:19|20)\d\d-\d\d-\d\d)[T ][0-9:.+\-Z]*", re.ASCII)
_DATE = re.compile(r"\d{4}-\d\d-\d\d", re.ASCII)

#: SNOMED CT codes of a test result (value set ``covid-19-lab-result``).
TEST_NEGATIVE = "260415000"
TEST_POSITIVE = "260373001"
#: ``test_result`` of a test whose result code is outside today's value set.
RESULT_UNKNOWN = "unknown"
_RESULTS = {TEST_NEGATIVE: "negative", TEST_POSITIVE: "positive"}


@dataclass(frozen=True)
class DgcFacts:
    """What the kiosk takes from a DCC: its type, the name to mask, and test/vaccination facts."""

    kind: str  # "v" | "t" | "r"
    given_name: str
    family_name: str
    subject: str  # standardised names and date of birth; hashed, never stored
    test_at: datetime | None = None
    test_result: str | None = None  # "negative" | "positive" | "unknown"
    vaccine_doses: int | None = None


def _bad(what: str) -> CodeError:
    return CodeError(CODE_MALFORMED, f"hcert: {what}")


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 date-time from a DCC (naive times are UTC); None if it is not one."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("z", "Z"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _dob(payload: dict[str, Any]) -> str:
    """The date of birth; a time part after a full date is dropped before the schema sees it."""
    dob = payload.get("dob")
    if isinstance(dob, str):
        match = _DOB_WITH_TIME.fullmatch(dob)
        if match:
            payload["dob"] = match.group(1)
    return str(payload.get("dob", ""))


def _latest(entries: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    """The entry that speaks for the certificate: the latest by date, then dose number."""
    if kind == "t":
        never = datetime.min.replace(tzinfo=UTC)
        return max(entries, key=lambda e: parse_time(e.get("sc")) or never)

    def key(entry: dict[str, Any]) -> tuple[str, float]:
        dt = entry.get("dt", "")
        return (dt[:10] if _DATE.match(dt) else "", entry.get("dn", 0))

    return max(entries, key=key) if kind == "v" else entries[0]


def parse_dgc(dgc: Any) -> DgcFacts:
    """Judge a DCC payload by the schema of the version it declares and return its facts.

    Exactly one of ``v``, ``t`` or ``r`` (schema 1.3, and the business rule before it); a
    1.0-1.2 payload may carry several entries and the latest speaks. A test result outside
    today's value set is ``unknown`` (the policy decides), never negative. CodeError
    (code.malformed) names the first rule broken, never a value.
    """
    payload = as_json(dgc)
    if not isinstance(payload, dict):
        raise _bad("payload is not a map")
    dob = _dob(payload)
    try:
        validate(payload)
    except SchemaError as exc:
        raise _bad(str(exc)) from None
    kinds = [k for k in ("v", "t", "r") if k in payload]
    if len(kinds) != 1:
        raise _bad("exactly one of v, t, r must be present")
    kind = kinds[0]
    entry = _latest(payload[kind], kind)
    facts: dict[str, Any] = {}
    if kind == "t":
        facts["test_result"] = _RESULTS.get(entry["tr"], RESULT_UNKNOWN)
        facts["test_at"] = parse_time(entry["sc"])
    elif kind == "v":
        facts["vaccine_doses"] = int(entry["dn"])
    nam = payload["nam"]
    fnt, gnt = nam.get("fnt", ""), nam.get("gnt", "")
    return DgcFacts(
        kind=kind,
        given_name=nam.get("gn") or gnt.replace("<", " ").strip(),
        family_name=nam.get("fn") or fnt.replace("<", " ").strip(),
        subject=f"{fnt}<<{gnt}|{dob}" if fnt or gnt else "",
        **facts,
    )


def dgc_of(cwt: dict[Any, Any]) -> Any:
    """The DCC payload inside the CWT claims (``-260`` → ``1``); CodeError if absent."""
    hcert = cwt.get(CLAIM_HCERT)
    if not isinstance(hcert, dict) or 1 not in hcert:
        raise _bad("no hcert claim")
    return hcert[1]
