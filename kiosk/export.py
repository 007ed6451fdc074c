"""Ledger export (台账): entries as CSV or JSON lines, the same columns everywhere."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any

from kiosk.model import Entry

COLUMNS = (
    "seq", "id", "ts", "kiosk", "site", "decision", "reasons", "code_kind", "code_status",
    "masked_name", "subject_hash", "temperature_c", "temperature_state", "policy_version",
    "delivered",
)  # fmt: skip


#: What a spreadsheet may read as the start of a formula (OWASP "CSV Injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def defuse(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula, made plain text with a leading
    ``'`` (OWASP); numbers and other text are left alone."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def export_record(entry: Entry, delivered: bool) -> dict[str, Any]:
    """The entry's record plus whether it has reached the county broker."""
    return {**entry.to_record(), "delivered": delivered}


def csv_lines(rows: Iterable[tuple[Entry, bool]]) -> Iterator[str]:
    """CSV text, header first; reasons are joined with ``;``; text cells are ``defuse``d."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for entry, delivered in rows:
        record = export_record(entry, delivered)
        record["reasons"] = ";".join(record["reasons"])
        writer.writerow(["" if record[c] is None else defuse(record[c]) for c in COLUMNS])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.getvalue():
        yield buffer.getvalue()


def jsonl_lines(rows: Iterable[tuple[Entry, bool]]) -> Iterator[str]:
    for entry, delivered in rows:
        yield json.dumps(export_record(entry, delivered), ensure_ascii=False) + "\n"
