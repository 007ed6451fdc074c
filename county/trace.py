"""Tracing (流调) with least data: the county's keys, the subject hashes the kiosks used, and
trace queries that are written to the append-only audit log.

Key scheme (docs/county.md § keys):
- the **identity key** ``I`` turns an ID number into the subject of a county pass:
  ``sub = hex(HMAC-SHA256(I, "checkpoint-county/id" NUL normalised ID))[:32]``;
- the **master key** ``M`` derives each kiosk's subject key, provisioned to that kiosk only:
  ``K_k = hex(HMAC-SHA256(M, "checkpoint-kiosk/subject-key" NUL kiosk id))`` (the 64 ASCII
  characters are the key the kiosk reads from its ``subject_key`` file);
- a kiosk stores ``HMAC-SHA256(K_k, "county:" issuer NUL sub)`` (``kiosk.codes.privacy``).
The same person has a different hash at every kiosk, so a leaked table links nobody across
venues, and without ``I`` and ``M`` no hash can be computed from an ID number.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from county.config import Config, ConfigError, read_secret
from county.desk.db import DeskDb
from kiosk.codes.privacy import SubjectHasher
from kiosk.confload import ConfigProblem

ID_CONTEXT = b"checkpoint-county/id\x00"
KIOSK_KEY_CONTEXT = b"checkpoint-kiosk/subject-key\x00"
_ID = re.compile(r"\d{17}[\dX]|\d{15}")
_SUBJECT = re.compile(r"[A-Za-z0-9_-]{16,128}")


class TraceError(ValueError):
    """A trace that cannot run: a missing key or an input that is neither ID nor subject."""


def _key(value: str | None, name: str) -> bytes | None:
    if value is None:
        return None
    try:
        key = bytes.fromhex(value.strip())
    except ValueError:
        raise ConfigError([ConfigProblem(name, "expected hex", "secret")]) from None
    if len(key) < 16:
        raise ConfigError([ConfigProblem(name, "expected at least 16 bytes (32 hex)", "secret")])
    return key


@dataclass(frozen=True)
class CountyKeys:
    """The two keys of the scheme; either may be absent (then that trace is unavailable)."""

    master: bytes | None
    identity: bytes | None

    @classmethod
    def load(cls, config: Config) -> CountyKeys:
        t = config.trace
        master = read_secret("trace.master_key", t.master_key_file, t.master_key_credential)
        ident = read_secret("trace.identity_key", t.identity_key_file, t.identity_key_credential)
        return cls(_key(master, "trace.master_key"), _key(ident, "trace.identity_key"))

    def kiosk_key(self, kiosk: str) -> bytes:
        """The subject key provisioned to ``kiosk`` (64 ASCII hex characters)."""
        if self.master is None:
            raise TraceError("no trace.master_key configured")
        digest = hmac.new(self.master, KIOSK_KEY_CONTEXT + kiosk.encode(), hashlib.sha256)
        return digest.hexdigest().encode()

    def subject_for_id(self, id_number: str) -> str:
        """The county-pass subject of a resident ID number (never stored, never logged)."""
        if self.identity is None:
            raise TraceError("no trace.identity_key configured")
        normal = normalise_id(id_number)
        mac = hmac.new(self.identity, ID_CONTEXT + normal.encode(), hashlib.sha256)
        return mac.hexdigest()[:32]

    def kiosk_hashes(self, subject: str, issuer: str, kiosks: list[str]) -> dict[str, str]:
        """``{kiosk: subject hash}`` exactly as each kiosk computed it for a county pass."""
        return {
            k: str(SubjectHasher(self.kiosk_key(k))(f"county:{issuer}", subject)) for k in kiosks
        }


def normalise_id(text: str) -> str:
    value = text.strip().upper()
    if not _ID.fullmatch(value):
        raise TraceError("not a resident ID number (18 characters, or the old 15 digits)")
    return value


def subject_of(query: str, keys: CountyKeys) -> str:
    """A trace input as a pass subject: an ID number is turned into one, a subject is kept."""
    text = query.strip()
    if _ID.fullmatch(text.upper()):
        return keys.subject_for_id(text)
    if _SUBJECT.fullmatch(text):
        return text
    raise TraceError(
        "enter a resident ID number or a county-pass subject (16-128 of A-Z a-z 0-9 _ -)"
    )


@dataclass(frozen=True)
class Visit:
    """One entry as a trace shows it: masked name and hash only."""

    ts: datetime
    site: str
    kiosk: str
    decision: str
    masked_name: str | None
    subject_hash: str | None
    temperature_c: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ts": self.ts.isoformat(),
            "site": self.site,
            "kiosk": self.kiosk,
            "decision": self.decision,
            "masked_name": self.masked_name,
            "subject_hash": self.subject_hash,
            "temperature_c": self.temperature_c,
        }


_VISIT_COLS = "ts, site, kiosk, decision, masked_name, subject_hash, temperature_c"


def _visits(db: DeskDb, rows: list[tuple[Any, ...]]) -> list[Visit]:
    return [Visit(db.ts(r[0]) or datetime.min, r[1], r[2], r[3], r[4], r[5], r[6]) for r in rows]


def known_kiosks(db: DeskDb) -> list[str]:
    rows = db.rows("SELECT kiosk FROM kiosks UNION SELECT DISTINCT kiosk FROM seq_runs")
    return sorted({r[0] for r in rows})


def audit(db: DeskDb, who: str, role: str, kind: str, query: str, rows: int, now: datetime) -> None:
    """Append one line to the audit log (the table refuses updates and deletes)."""
    db.execute(
        "INSERT INTO audit_log (ts, who, role, kind, query, rows) VALUES (?, ?, ?, ?, ?, ?)",
        (now, who, role, kind, query, rows),
    )


def trace_person(
    db: DeskDb, keys: CountyKeys, query: str, issuer: str, who: str, now: datetime, limit: int
) -> list[Visit]:
    """Every visit of one person across all kiosks; audited with the subject's *hash* (an
    ID number typed in is never written anywhere)."""
    subject = subject_of(query, keys)
    hashes = keys.kiosk_hashes(subject, issuer, known_kiosks(db))
    visits: list[Visit] = []
    wanted = {(k, h) for k, h in hashes.items()}
    values = sorted(set(hashes.values()))
    for start in range(0, len(values), 500):
        chunk = values[start : start + 500]
        marks = ", ".join("?" for _ in chunk)
        rows = db.rows(
            f"SELECT {_VISIT_COLS} FROM entries WHERE subject_hash IN ({marks})",  # noqa: S608
            chunk,
        )
        visits += [v for v in _visits(db, rows) if (v.kiosk, v.subject_hash) in wanted]
    visits.sort(key=lambda v: v.ts)
    visits = visits[:limit]
    tag = hashlib.sha256(subject.encode()).hexdigest()[:12]
    audit(db, who, "tracer", "person", f"subject sha256:{tag}", len(visits), now)
    return visits


def co_visitors(
    db: DeskDb, site: str, start: datetime, end: datetime, who: str, now: datetime, limit: int
) -> list[Visit]:
    """Everyone recorded at ``site`` between ``start`` and ``end`` (masked names, hashes)."""
    if end <= start:
        raise TraceError("the window must end after it starts")
    rows = db.rows(
        f"SELECT {_VISIT_COLS} FROM entries WHERE site = ? AND ts >= ? AND ts < ? "  # noqa: S608
        "ORDER BY ts LIMIT ?",
        (site, start, end, limit),
    )
    visits = _visits(db, rows)
    window = f"site {site} {start.isoformat()} .. {end.isoformat()}"
    audit(db, who, "tracer", "venue", window, len(visits), now)
    return visits


@dataclass(frozen=True)
class AuditLine:
    id: int
    ts: datetime
    who: str
    role: str
    kind: str
    query: str
    rows: int


def audit_log(db: DeskDb, limit: int = 200) -> list[AuditLine]:
    rows = db.rows(
        "SELECT id, ts, who, role, kind, query, rows FROM audit_log ORDER BY id DESC LIMIT ?",
        (limit,),
    )
    return [AuditLine(r[0], db.ts(r[1]) or datetime.min, *r[2:]) for r in rows]
