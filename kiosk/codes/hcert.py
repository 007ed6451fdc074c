"""The EU DCC payload (``hcert`` claim -260/1): the schema rules a verifier needs, its facts."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kiosk.codes.errors import CodeError
from kiosk.reasons import CODE_MALFORMED

CLAIM_HCERT = -260
_VER = re.compile(r"\d+\.\d+\.\d+")
_STD_NAME = re.compile(r"[A-Z<]{0,80}")
_DOB = re.compile(r"((19|20)\d\d(-\d\d){0,2})?")
_DATE = re.compile(r"\d{4}-\d\d-\d\d")

#: SNOMED CT codes of a test result (value set ``covid-19-lab-result``).
TEST_NEGATIVE = "260415000"
TEST_POSITIVE = "260373001"

# Required members (all text unless listed in _INTS) of each certificate type, per schema 1.3.
_REQUIRED = {
    "v": ("tg", "vp", "mp", "ma", "dn", "sd", "dt", "co", "is", "ci"),
    "t": ("tg", "tt", "sc", "tr", "co", "is", "ci"),
    "r": ("tg", "fr", "co", "is", "df", "du", "ci"),
}
_INTS = {"dn", "sd"}


@dataclass(frozen=True)
class DgcFacts:
    """What the kiosk takes from a DCC: its type, the name to mask, and test/vaccination facts."""

    kind: str  # "v" | "t" | "r"
    given_name: str
    family_name: str
    subject: str  # standardised names and date of birth; hashed, never stored
    test_at: datetime | None = None
    test_result: str | None = None
    vaccine_doses: int | None = None


def _bad(what: str) -> CodeError:
    return CodeError(CODE_MALFORMED, f"hcert: {what}")


def _str(obj: dict[Any, Any], key: str, required: bool = True) -> str:
    value = obj.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or len(value) > 256:
        raise _bad(f"{key} must be text")
    return value


def _entry(entry: Any, kind: str) -> dict[Any, Any]:
    if not isinstance(entry, dict):
        raise _bad(f"{kind} entry is not a map")
    for key in _REQUIRED[kind]:
        value = entry.get(key)
        if key in _INTS:
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 9:
                raise _bad(f"{kind}.{key} must be an integer 1-9")
        elif not isinstance(value, str) or not value or len(value) > 256:
            raise _bad(f"{kind}.{key} must be text")
    for key in ("dt", "fr", "df", "du"):
        if key in entry and not _DATE.fullmatch(str(entry[key])[:10]):
            raise _bad(f"{kind}.{key} must be a date")
    return entry


def parse_time(text: str) -> datetime:
    """An ISO 8601 date-time from a DCC; naive times are UTC."""
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _bad("sc is not an ISO 8601 date-time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_dgc(dgc: Any) -> DgcFacts:
    """Check a DCC payload against the schema rules that matter and return its facts.

    Exactly one of ``v``, ``t`` or ``r`` with exactly one entry (the business rule: one
    certificate per code). CodeError(code.malformed) names the first rule broken.
    """
    if not isinstance(dgc, dict):
        raise _bad("payload is not a map")
    if not _VER.fullmatch(_str(dgc, "ver")):
        raise _bad("ver must be a version like 1.3.0")
    nam = dgc.get("nam")
    if not isinstance(nam, dict):
        raise _bad("nam missing")
    fnt = _str(nam, "fnt")
    gnt = _str(nam, "gnt", required=False)
    if not fnt or not _STD_NAME.fullmatch(fnt) or not _STD_NAME.fullmatch(gnt):
        raise _bad("nam.fnt/gnt must be standardised (A-Z and <)")
    dob = _str(dgc, "dob")
    if not _DOB.fullmatch(dob):
        raise _bad("dob must be YYYY, YYYY-MM or YYYY-MM-DD")
    kinds = [k for k in ("v", "t", "r") if k in dgc]
    if len(kinds) != 1:
        raise _bad("exactly one of v, t, r must be present")
    kind = kinds[0]
    entries = dgc[kind]
    if not isinstance(entries, list) or len(entries) != 1:
        raise _bad(f"{kind} must hold exactly one entry")
    entry = _entry(entries[0], kind)
    facts: dict[str, Any] = {}
    if kind == "t":
        tr = entry["tr"]
        facts["test_result"] = (
            "negative" if tr == TEST_NEGATIVE else "positive" if tr == TEST_POSITIVE else None
        )
        if facts["test_result"] is None:
            raise _bad("t.tr is not a known test result")
        facts["test_at"] = parse_time(entry["sc"])
    elif kind == "v":
        facts["vaccine_doses"] = entry["dn"]
    return DgcFacts(
        kind=kind,
        given_name=_str(nam, "gn", required=False) or gnt.replace("<", " "),
        family_name=_str(nam, "fn", required=False) or fnt.replace("<", " "),
        subject=f"{fnt}<<{gnt}|{dob}",
        **facts,
    )


def dgc_of(cwt: dict[Any, Any]) -> Any:
    """The DCC payload inside the CWT claims (``-260`` → ``1``); CodeError if absent."""
    hcert = cwt.get(CLAIM_HCERT)
    if not isinstance(hcert, dict) or 1 not in hcert:
        raise _bad("no hcert claim")
    return hcert[1]
