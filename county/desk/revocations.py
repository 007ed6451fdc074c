"""The revocation register as the desk shows it: the latest revocations (a short prefix of the
keyed hash, never a subject) and the issue time of the last list signed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from county.desk.db import DeskDb


@dataclass(frozen=True)
class Revocation:
    entry: str  # the first 8 bytes of the entry key, hex
    kind: str  # subject | pass
    issued_before: datetime
    reason: str
    revoked_at: datetime | None
    revoked_by: str


def recent(db: DeskDb, limit: int = 50) -> list[Revocation]:
    rows = db.rows(
        "SELECT entry, kind, issued_before, reason, revoked_at, revoked_by FROM revocations "
        "ORDER BY revoked_at DESC LIMIT ?",
        (limit,),
    )
    return [
        Revocation(
            bytes(r[0])[:8].hex(),
            r[1],
            datetime.fromtimestamp(int(r[2]), UTC),
            r[3],
            DeskDb.ts(r[4]),
            r[5],
        )
        for r in rows
    ]


def last_list(db: DeskDb) -> tuple[datetime | None, int]:
    """When the last revocation list was signed, and how many entries the register holds."""
    row = db.one("SELECT issued_at FROM lists_published WHERE list = 'revocations'")
    count = db.one("SELECT COUNT(*) FROM revocations")
    issued = datetime.fromtimestamp(int(row[0]), UTC) if row else None
    return issued, int(count[0]) if count else 0
