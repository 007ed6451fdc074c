"""What both stores share: numbered migrations, row values and the batch's effect on runs."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources

from county.store.base import Batch, Progress
from county.store.gaps import Run, confirmed_seq, last_seq, merge_runs, missing_ranges
from kiosk.uplink.wire import AlertRecord, EntryRecord

ENTRY_COLUMNS = (
    "id",
    "kiosk",
    "site",
    "seq",
    "ts",
    "decision",
    "reasons",
    "code_kind",
    "code_status",
    "masked_name",
    "subject_hash",
    "temperature_c",
    "temperature_state",
    "policy_version",
    "received_at",
)
ALERT_COLUMNS = (
    "entry_id",
    "kiosk",
    "site",
    "seq",
    "ts",
    "decision",
    "alerts",
    "reasons",
    "code_status",
    "masked_name",
    "temperature_c",
    "received_at",
)
_NAME = re.compile(r"(\d{4})_[a-z0-9_]+\.sql")


@dataclass(frozen=True)
class Migration:
    """One numbered SQL file: ``0001_init.sql`` takes the schema to version 1."""

    version: int
    name: str
    statements: tuple[str, ...]


def migrations(backend: str) -> list[Migration]:
    """The backend's migrations in order; never edit one that has shipped, add the next."""
    folder = resources.files("county.store") / "migrations" / backend
    found = []
    for item in folder.iterdir():
        match = _NAME.fullmatch(item.name)
        if match:
            text = item.read_text(encoding="utf-8")
            found.append(Migration(int(match.group(1)), item.name, split_sql(text)))
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations of {backend} are not numbered 1..N: {found}")
    return found


def split_sql(text: str) -> tuple[str, ...]:
    """Statements of a migration file: ``;`` at a line end ends one; ``--`` lines are comments."""
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith("--")]
    parts = re.split(r";\s*$", "\n".join(lines), flags=re.MULTILINE)
    return tuple(p.strip() for p in parts if p.strip())


def insert_sql(table: str, columns: tuple[str, ...], marker: str, key: str) -> str:
    """``INSERT ... ON CONFLICT (key) DO NOTHING`` for constant table and column names."""
    names = ", ".join(columns)
    marks = ", ".join(marker for _ in columns)
    return f"INSERT INTO {table} ({names}) VALUES ({marks}) ON CONFLICT ({key}) DO NOTHING"  # noqa: S608


def entry_values(e: EntryRecord, received_at: object) -> tuple[object, ...]:
    return (
        e.id,
        e.kiosk,
        e.site,
        e.seq,
        e.ts,
        e.decision,
        json.dumps(list(e.reasons), ensure_ascii=False),
        e.code_kind,
        e.code_status,
        e.masked_name,
        e.subject_hash,
        e.temperature_c,
        e.temperature_state,
        e.policy_version,
        received_at,
    )


def alert_values(a: AlertRecord, received_at: object) -> tuple[object, ...]:
    return (
        a.entry_id,
        a.kiosk,
        a.site,
        a.seq,
        a.ts,
        a.decision,
        json.dumps(list(a.alerts), ensure_ascii=False),
        json.dumps(list(a.reasons), ensure_ascii=False),
        a.code_status,
        a.masked_name,
        a.temperature_c,
        received_at,
    )


def changed_runs(batch: Batch, held: Mapping[str, Sequence[Run]]) -> dict[str, list[Run]]:
    """New runs of each kiosk whose runs the batch's entries change (only those)."""
    seqs: dict[str, list[int]] = {}
    for entry in batch.entries:
        seqs.setdefault(entry.kiosk, []).append(entry.seq)
    out: dict[str, list[Run]] = {}
    for kiosk, numbers in seqs.items():
        before = list(held.get(kiosk, ()))
        after = merge_runs(before, numbers)
        if after != before:
            out[kiosk] = after
    return out


def progress_of(kiosk: str, runs: Sequence[Run]) -> Progress:
    return Progress(kiosk, confirmed_seq(runs), last_seq(runs), tuple(missing_ranges(runs)))


def group_runs(rows: Sequence[tuple[str, int, int]]) -> dict[str, list[Run]]:
    """``(kiosk, lo, hi)`` rows ordered by kiosk, lo -> runs per kiosk."""
    out: dict[str, list[Run]] = {}
    for kiosk, lo, hi in rows:
        out.setdefault(kiosk, []).append((int(lo), int(hi)))
    return out
