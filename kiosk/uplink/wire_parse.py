"""Validation of the kiosk's documents as the county receives them (re-exported by ``wire``).

Pure functions over bytes: a document that breaks the schema raises ``WireError`` whose
``reason`` is a stable code (``wire.bad_json``, ``wire.kiosk_mismatch``, ...) for the county's
quarantine. Fields the schema does not know are ignored, so a kiosk may add some within schema 1.
Standard library only.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kiosk.model import WIRE_SCHEMA

#: The county refuses larger documents (an entry is about 400 bytes).
MAX_PAYLOAD = 64 * 1024
#: What a kiosk publishes under ``{prefix}/kiosk/{id}/``.
LEAVES = ("entries", "alerts", "status", "state")
DECISIONS = ("pass", "deny", "refer")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")  # kiosk and site ids (kiosk.config.core)
_TEXT_MAX = 256
_INT_MAX = 2**31 - 1  # fits the databases' integer columns
_SEQ_MAX = 2**62


class WireError(ValueError):
    """A document that breaks the schema; ``reason`` is a stable code, ``detail`` says where."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class TopicRef:
    """Which kiosk a topic belongs to and which of its documents it carries."""

    kiosk: str
    leaf: str


@dataclass(frozen=True)
class EntryRecord:
    """One entry as the county stores it (``Entry.entry_message`` on the kiosk)."""

    id: str
    seq: int
    kiosk: str
    site: str
    ts: datetime
    decision: str
    reasons: tuple[str, ...]
    code_kind: str | None
    code_status: str | None
    masked_name: str | None
    subject_hash: str | None
    temperature_c: float | None
    temperature_state: str | None
    policy_version: str | None


@dataclass(frozen=True)
class AlertRecord:
    """An alert raised by an entry (``Entry.alert_message``); ``entry_id`` links the two."""

    entry_id: str
    seq: int
    kiosk: str
    site: str
    ts: datetime
    decision: str
    alerts: tuple[str, ...]
    reasons: tuple[str, ...]
    code_status: str | None
    masked_name: str | None
    temperature_c: float | None


@dataclass(frozen=True)
class StatusRecord:
    """The retained availability document (also the kiosk's Last Will)."""

    kiosk: str
    site: str
    online: bool
    version: str | None
    since: datetime | None


@dataclass(frozen=True)
class StateRecord:
    """The retained state document: the kiosk's backlog towards the broker."""

    ts: datetime
    backlog: int
    oldest_pending_age_s: float | None
    parked: int


Message = EntryRecord | AlertRecord | StatusRecord | StateRecord


def parse_topic(prefix: str, topic: str) -> TopicRef | None:
    """``{prefix}/kiosk/{id}/{leaf}`` -> ``TopicRef``; None for any other topic."""
    head = f"{prefix}/kiosk/"
    if not topic.startswith(head):
        return None
    parts = topic[len(head) :].split("/")
    if len(parts) != 2 or parts[1] not in LEAVES or not _ID.fullmatch(parts[0]):
        return None
    return TopicRef(parts[0], parts[1])


def parse_message(ref: TopicRef, payload: bytes, max_bytes: int = MAX_PAYLOAD) -> Message:
    """Validate ``payload`` received on the topic ``ref``; raise ``WireError`` if it is bad."""
    if len(payload) > max_bytes:
        raise WireError("wire.too_large", f"{len(payload)} bytes, at most {max_bytes}")
    try:
        doc = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise WireError("wire.bad_json", str(exc)[:200]) from exc
    if not isinstance(doc, dict):
        raise WireError("wire.bad_json", "not a JSON object")
    schema = doc.get("schema")
    if schema != WIRE_SCHEMA or isinstance(schema, bool):
        raise WireError("wire.unknown_schema", f"schema {schema!r}, expected {WIRE_SCHEMA}")
    fields = _Fields(doc)
    record: EntryRecord | AlertRecord | StatusRecord
    if ref.leaf == "entries":
        fields.expect_type("entry")
        record = _entry(fields)
    elif ref.leaf == "alerts":
        fields.expect_type("alert")
        record = _alert(fields)
    elif ref.leaf == "status":
        record = _status(fields)
    else:
        return _state(fields)  # the state document names no kiosk: the topic does
    if record.kiosk != ref.kiosk:
        raise WireError(
            "wire.kiosk_mismatch", f'kiosk "{record.kiosk}" published on "{ref.kiosk}"\'s topic'
        )
    return record


class _Fields:
    """Typed access to a document's fields; each failure names the field."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc

    def _bad(self, key: str, expected: str) -> WireError:
        got = self.doc.get(key)
        shown = type(got).__name__ if key in self.doc else "missing"
        return WireError("wire.bad_field", f"{key}: expected {expected}, got {shown}")

    def expect_type(self, kind: str) -> None:
        if self.doc.get("type") != kind:
            raise WireError(
                "wire.bad_field", f'type: expected "{kind}", got {self.doc.get("type")!r}'
            )

    def text(self, key: str, pattern: re.Pattern[str] | None = None) -> str:
        value = self.doc.get(key)
        if not isinstance(value, str) or not value or len(value) > _TEXT_MAX or "\x00" in value:
            raise self._bad(key, "a string")
        if pattern is not None and not pattern.fullmatch(value):
            raise WireError("wire.bad_field", f"{key}: not a valid id")
        return value

    def opt_text(self, key: str) -> str | None:
        value = self.doc.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or len(value) > _TEXT_MAX or "\x00" in value:
            raise self._bad(key, "a string or null")
        return value

    def count(self, key: str, minimum: int, maximum: int = _INT_MAX) -> int:
        value = self.doc.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
            raise self._bad(key, f"an integer {minimum}-{maximum}")
        return value

    def opt_number(self, key: str) -> float | None:
        value = self.doc.get(key)
        if value is None:
            return None
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise self._bad(key, "a number or null")
        return float(value)

    def texts(self, key: str) -> tuple[str, ...]:
        value = self.doc.get(key)
        if not isinstance(value, list) or len(value) > 64:
            raise self._bad(key, "a list of strings")
        if not all(
            isinstance(v, str) and 0 < len(v) <= _TEXT_MAX and "\x00" not in v for v in value
        ):
            raise self._bad(key, "a list of strings")
        return tuple(value)

    def uuid(self, key: str) -> str:
        value = self.text(key)
        try:
            canonical = str(uuid.UUID(value))
        except ValueError as exc:
            raise WireError("wire.bad_field", f"{key}: not a UUID") from exc
        if canonical != value.lower():
            raise WireError("wire.bad_field", f"{key}: not a canonical UUID")
        return canonical

    def time(self, key: str) -> datetime:
        value = self.text(key)
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise WireError("wire.bad_field", f"{key}: not an ISO 8601 time") from exc
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)

    def decision(self) -> str:
        value = self.doc.get("decision")
        if value not in DECISIONS:
            raise self._bad("decision", "pass, deny or refer")
        return str(value)


def _entry(f: _Fields) -> EntryRecord:
    return EntryRecord(
        id=f.uuid("id"),
        seq=f.count("seq", 1, _SEQ_MAX),
        kiosk=f.text("kiosk", _ID),
        site=f.text("site", _ID),
        ts=f.time("ts"),
        decision=f.decision(),
        reasons=f.texts("reasons"),
        code_kind=f.opt_text("code_kind"),
        code_status=f.opt_text("code_status"),
        masked_name=f.opt_text("masked_name"),
        subject_hash=f.opt_text("subject_hash"),
        temperature_c=f.opt_number("temperature_c"),
        temperature_state=f.opt_text("temperature_state"),
        policy_version=f.opt_text("policy_version"),
    )


def _alert(f: _Fields) -> AlertRecord:
    return AlertRecord(
        entry_id=f.uuid("entry_id"),
        seq=f.count("seq", 1, _SEQ_MAX),
        kiosk=f.text("kiosk", _ID),
        site=f.text("site", _ID),
        ts=f.time("ts"),
        decision=f.decision(),
        alerts=f.texts("alerts"),
        reasons=f.texts("reasons"),
        code_status=f.opt_text("code_status"),
        masked_name=f.opt_text("masked_name"),
        temperature_c=f.opt_number("temperature_c"),
    )


def _status(f: _Fields) -> StatusRecord:
    state = f.doc.get("state")
    if state not in ("online", "offline"):
        raise f._bad("state", '"online" or "offline"')
    return StatusRecord(
        kiosk=f.text("kiosk", _ID),
        site=f.text("site", _ID),
        online=state == "online",
        version=f.opt_text("version"),
        since=f.time("since") if f.doc.get("since") is not None else None,
    )


def _state(f: _Fields) -> StateRecord:
    return StateRecord(
        ts=f.time("ts"),
        backlog=f.count("backlog", 0),
        oldest_pending_age_s=f.opt_number("oldest_pending_age_s"),
        parked=f.count("parked", 0),
    )
