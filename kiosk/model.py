"""Immutable value types shared by every room of the kiosk (standard library only)."""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    """What the kiosk tells the visitor: 通行 PASS, 禁止 DENY or 请联系工作人员 SEE STAFF."""

    PASS = "pass"  # noqa: S105 - an outcome, not a password
    DENY = "deny"
    REFER = "refer"


#: Version of the JSON documents sent to the county (``"schema"`` in every payload).
WIRE_SCHEMA = 1

#: Reasons that raise an alert to the county besides the entry itself.
ALERT_REASONS = frozenset({"code.red", "code.yellow", "code.revoked", "temp.fever"})


def uuid7(unix_ms: int | None = None) -> uuid.UUID:
    """A UUIDv7 (RFC 9562): 48-bit Unix milliseconds, then random bits; sorts by creation time."""
    ms = int(time.time() * 1000) if unix_ms is None else unix_ms
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version
    value |= ((rand >> 68) & 0xFFF) << 64  # rand_a
    value |= 0b10 << 62  # variant
    value |= rand & ((1 << 62) - 1)  # rand_b
    return uuid.UUID(int=value)


def utc_iso(ts: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a ``Z``: ``2026-11-28T23:30:00.123Z``."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def parse_utc(text: str) -> datetime:
    """Parse an ISO 8601 timestamp; naive times are taken as UTC."""
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Entry:
    """One visitor at the door, as recorded in the ledger and sent to the county.

    ``seq`` is 0 until the ledger commits the entry and gives it the kiosk's next gap-free
    number. Nothing personal is kept beyond a masked name and a keyed hash of the subject.
    """

    id: str
    seq: int
    kiosk: str
    site: str
    ts: datetime
    decision: Outcome
    reasons: tuple[str, ...] = ()
    code_kind: str | None = None
    code_status: str | None = None
    masked_name: str | None = None
    subject_hash: str | None = None
    temperature_c: float | None = None
    temperature_state: str | None = None
    policy_version: str | None = None
    itinerary_status: str | None = None  # "normal" | "starred"; None: no itinerary given
    itinerary_updated_at: datetime | None = None
    temperature_source: str | None = None  # None: the kiosk's filter; "kiosk" | "clinical"
    staff_name: str | None = None  # who decided a staff registration (人工登记)

    @classmethod
    def new(
        cls,
        kiosk: str,
        site: str,
        decision: Outcome,
        reasons: tuple[str, ...] = (),
        ts: datetime | None = None,
        **fields: Any,
    ) -> Entry:
        """A fresh, not yet committed entry with a new UUIDv7 and the current UTC time."""
        when = ts or datetime.now(UTC)
        when = when.replace(microsecond=when.microsecond // 1000 * 1000)  # stored to the ms
        ident = uuid7(int(when.timestamp() * 1000))
        return cls(
            id=str(ident),
            seq=0,
            kiosk=kiosk,
            site=site,
            ts=when,
            decision=decision,
            reasons=tuple(reasons),
            **fields,
        )

    @property
    def alert_reasons(self) -> tuple[str, ...]:
        """The reasons that make this entry an alert (red, yellow or revoked code, fever)."""
        return tuple(r for r in self.reasons if r in ALERT_REASONS)

    def with_seq(self, seq: int) -> Entry:
        return replace(self, seq=seq)

    def to_record(self) -> dict[str, Any]:
        """A flat, JSON-ready dict; the wire and export format share it."""
        return {
            "id": self.id,
            "seq": self.seq,
            "kiosk": self.kiosk,
            "site": self.site,
            "ts": utc_iso(self.ts),
            "decision": self.decision.value,
            "reasons": list(self.reasons),
            "code_kind": self.code_kind,
            "code_status": self.code_status,
            "masked_name": self.masked_name,
            "subject_hash": self.subject_hash,
            "temperature_c": self.temperature_c,
            "temperature_state": self.temperature_state,
            "policy_version": self.policy_version,
            "itinerary_status": self.itinerary_status,
            "itinerary_updated_at": (
                None if self.itinerary_updated_at is None else utc_iso(self.itinerary_updated_at)
            ),
            "temperature_source": self.temperature_source,
            "staff_name": self.staff_name,
        }

    def entry_message(self) -> bytes:
        """The JSON document published on ``.../entries``: the record plus schema and type."""
        return _dump({"schema": WIRE_SCHEMA, "type": "entry", **self.to_record()})

    def alert_message(self) -> bytes:
        """The JSON document published on ``.../alerts``; ``entry_id`` links it to its entry."""
        return _dump(
            {
                "schema": WIRE_SCHEMA,
                "type": "alert",
                "entry_id": self.id,
                "seq": self.seq,
                "kiosk": self.kiosk,
                "site": self.site,
                "ts": utc_iso(self.ts),
                "decision": self.decision.value,
                "alerts": list(self.alert_reasons),
                "reasons": list(self.reasons),
                "code_status": self.code_status,
                "masked_name": self.masked_name,
                "temperature_c": self.temperature_c,
            }
        )


def _dump(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


# -- what the devices and verifiers report -------------------------------------------------
# Shared by scanner/, sensors/, codes/, policy.py and checkpoint.py. Fields may be added (with
# defaults); existing ones keep their names and meaning.


@dataclass(frozen=True)
class ScannedCode:
    """A code read off a camera frame. ``text`` is raw and stays in memory: never log or store it.

    ``colour_hint`` (green/yellow/red/other) is the colour of the code's modules: evidence beside
    a verification, never a verdict. ``t`` is the ``time.monotonic()`` of the frame.
    """

    text: str
    format: str
    bbox: tuple[int, int, int, int] | None
    colour_hint: str
    t: float


@dataclass(frozen=True)
class Reading:
    """One raw sample from a thermometer: object and (if the module reports it) ambient in °C."""

    object_c: float
    ambient_c: float | None
    t: float  # time.monotonic() when the frame was parsed


class TempState(StrEnum):
    """Where the reading filter stands; only OK and FEVER carry a decision-grade value."""

    MEASURING = "measuring"
    OK = "ok"
    FEVER = "fever"
    NOT_READY = "not_ready"
    NO_SUBJECT = "no_subject"


@dataclass(frozen=True)
class Temperature:
    """A filtered temperature: ``value_c`` = median of the stable window + ``offset_c``.

    Raw object and ambient values are kept so that the compensation applied is always visible.
    """

    state: TempState
    value_c: float | None = None
    raw_object_c: float | None = None
    ambient_c: float | None = None
    offset_c: float = 0.0
    samples: int = 0
    t: float = 0.0


class CodeStatus(StrEnum):
    """A code's verified status: a colour only when the issuer's answer was verified."""

    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"
    EXPIRED = "expired"
    NOT_FOUND = "not_found"
    FAILED = "failed"  # could not verify: bad signature, unknown issuer, malformed, unknown format
    TIMEOUT = "timeout"


class ItineraryStatus(StrEnum):
    """The itinerary card (行程卡): starred = a city with a medium/high-risk area in 14 days."""

    NORMAL = "normal"
    STARRED = "starred"


@dataclass(frozen=True)
class Itinerary:
    """The itinerary status the county platform reports beside the health code (两码合一)."""

    status: ItineraryStatus
    updated_at: datetime


@dataclass(frozen=True)
class RevocationCheck:
    """A county pass checked against its county's signed revocation list.

    ``list_issued_at`` is the issue time of the list in force (None: no list received yet), so
    the policy can tell a stale list from a fresh one without a clock of its own.
    """

    revoked: bool
    list_issued_at: datetime | None


@dataclass(frozen=True)
class Verification:
    """What a verifier concluded about one code; no raw code text, ID number or full name.

    ``valid`` is true only for a verified answer (signature or online service); ``reasons`` are
    stable reason codes such as ``code.bad_signature``.
    """

    kind: str  # "county-pass" | "eu-dcc" | "online-token" | "unknown"
    status: CodeStatus
    valid: bool
    reasons: tuple[str, ...] = ()
    masked_name: str | None = None
    subject_hash: str | None = None
    issuer: str | None = None
    issued_at: datetime | None = None
    expires_at: datetime | None = None
    status_updated_at: datetime | None = None
    test_at: datetime | None = None
    test_result: str | None = None
    vaccine_doses: int | None = None
    itinerary: Itinerary | None = None
    revocation: RevocationCheck | None = None  # None: no revocation list covers this code


@dataclass(frozen=True)
class Decision:
    """The policy's verdict with stable reason codes and the policy version that produced it."""

    outcome: Outcome
    reasons: tuple[str, ...]
    policy_version: str


# -- codes: the county offline pass (kiosk.codes) ------------------------------------------


@dataclass(frozen=True)
class PassClaims:
    """What a county offline pass asserts (docs/county-pass.md); no ID number, no full name.

    ``subject_key`` is the county's keyed hash of the holder's identity; ``masked_name`` is
    already masked (张*中). ``status`` is one of green, yellow, red.
    """

    issuer: str
    subject_key: str
    masked_name: str
    status: CodeStatus
    status_updated_at: datetime
    issued_at: datetime
    expires_at: datetime
    test_at: datetime | None = None
    test_result: str | None = None  # "negative" | "positive"
    vaccine_doses: int | None = None
    itinerary: Itinerary | None = None  # claim "it" (spec 1.1); absent in 1.0 passes
    pass_id: str | None = None  # the CWT ID (cti) as lowercase hex: lets the county revoke it


# -- scanner ------------------------------------------------------------------------------
# Added with kiosk/scanner/: what the scan worker reports to the status page and supervisor.


@dataclass(frozen=True)
class ScannerHealth:
    """A snapshot of the scan worker. Times are ``time.monotonic()`` seconds.

    ``state`` is ``idle`` (not started), ``running``, ``waiting`` (no frame: camera gone and
    reconnecting), ``missing`` (the camera cannot be opened; retried with back-off, the reason
    in ``problem``), ``ended`` (a finite replay is over) or ``stopped``. ``last_progress`` moves
    on every frame read and on every reopen attempt, so a supervisor can tell a stalled camera
    from a quiet doorway or a missing one.
    """

    state: str
    source: str
    decoder: str
    frames: int
    decoded_frames: int
    codes: int
    duplicates: int
    dropped_busy: int
    rate_skipped: int
    fps_in: float
    ms_per_frame: float | None
    last_frame_age_s: float | None
    last_progress: float
    problem: str | None = None
    retry_in_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "source": self.source,
            "decoder": self.decoder,
            "frames": self.frames,
            "decoded_frames": self.decoded_frames,
            "codes": self.codes,
            "duplicates": self.duplicates,
            "dropped_busy": self.dropped_busy,
            "rate_skipped": self.rate_skipped,
            "fps_in": round(self.fps_in, 2),
            "ms_per_frame": None if self.ms_per_frame is None else round(self.ms_per_frame, 3),
            "last_frame_age_s": (
                None if self.last_frame_age_s is None else round(self.last_frame_age_s, 3)
            ),
            "last_progress": self.last_progress,
            "problem": self.problem,
            "retry_in_s": None if self.retry_in_s is None else round(self.retry_in_s, 1),
        }


# -- thermometer health (kiosk/sensors) ----------------------------------------------------


class SensorState(StrEnum):
    """Where a thermometer's serial link stands, as the status page and supervisor see it."""

    CONNECTING = "connecting"  # port opening or open, no valid frame yet
    CONNECTED = "connected"  # valid frames arriving
    NOT_READY = "not_ready"  # port open but no valid frame for the watchdog period
    UNPLUGGED = "unplugged"  # the port is gone or failed; retrying with back-off
    STOPPED = "stopped"


@dataclass(frozen=True)
class ThermometerHealth:
    """A snapshot of a thermometer reader: state, last reading and error counters.

    ``last_progress`` is the ``time.monotonic()`` of the reader loop's last turn (it turns at
    least every few hundred ms while alive); ``last_frame_t`` that of the last valid frame.
    Counters only grow: ``checksum_errors`` (bad checksum/CRC), ``frame_errors`` (malformed or
    unexpected frames, Modbus exceptions, requests with no reply), ``skipped_bytes`` (noise).
    """

    state: SensorState
    port: str
    protocol: str
    last_reading: Reading | None = None
    last_frame_t: float | None = None
    frames: int = 0
    checksum_errors: int = 0
    frame_errors: int = 0
    skipped_bytes: int = 0
    reconnects: int = 0
    dropped: int = 0
    last_error: str | None = None
    last_progress: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for the status page and ``kiosk thermometer`` output."""
        reading = self.last_reading
        return {
            "state": self.state.value,
            "port": self.port,
            "protocol": self.protocol,
            "last_reading": None
            if reading is None
            else {"object_c": reading.object_c, "ambient_c": reading.ambient_c, "t": reading.t},
            "last_frame_t": self.last_frame_t,
            "frames": self.frames,
            "checksum_errors": self.checksum_errors,
            "frame_errors": self.frame_errors,
            "skipped_bytes": self.skipped_bytes,
            "reconnects": self.reconnects,
            "dropped": self.dropped,
            "last_error": self.last_error,
            "last_progress": self.last_progress,
        }


# -- on the Pi: gate signals and the self-check (kiosk/gate.py, kiosk/doctor.py) -----------


@dataclass(frozen=True)
class GateHealth:
    """A snapshot of the gate worker (relay, buzzer, LEDs). Times are ``time.monotonic()``.

    ``state`` is ``off`` (no pin configured), ``idle`` (not started), ``running``, ``failed``
    (the GPIO outputs could not be opened or driven; ``last_error`` says why) or ``stopped``.
    ``relay_pulses`` counts relay closures, which only a PASS causes.
    """

    state: str
    signals: int = 0
    relay_pulses: int = 0
    last_outcome: Outcome | None = None
    last_error: str | None = None
    last_progress: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "signals": self.signals,
            "relay_pulses": self.relay_pulses,
            "last_outcome": None if self.last_outcome is None else self.last_outcome.value,
            "last_error": self.last_error,
            "last_progress": self.last_progress,
        }


class CheckStatus(StrEnum):
    """How one self-check came out; only FAIL blocks operation (``kiosk doctor`` exits 1)."""

    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"  # not run: an earlier check it depends on failed, or nothing to check


@dataclass(frozen=True)
class CheckResult:
    """One row of ``kiosk doctor``: what was checked, what was found and how to fix it.

    ``name`` is stable (``camera``, ``broker`` ...) for scripts; ``title`` is for people
    (Chinese first). ``hint`` is empty when there is nothing to do. No secret or personal
    data ever appears in ``detail`` or ``hint``.
    """

    name: str
    title: str
    status: CheckStatus
    detail: str
    hint: str = ""
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "status": self.status.value,
            "detail": self.detail,
            "hint": self.hint,
            "seconds": round(self.seconds, 3),
        }
