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
    "itinerary_status", "itinerary_updated_at", "temperature_source", "staff_name", "delivered",
)  # fmt: skip


def export_record(entry: Entry, delivered: bool) -> dict[str, Any]:
    """The entry's record plus whether it has reached the county broker."""
    return {**entry.to_record(), "delivered": delivered}


def csv_lines(rows: Iterable[tuple[Entry, bool]]) -> Iterator[str]:
    """CSV text, header first; reasons are joined with ``;``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for entry, delivered in rows:
        record = export_record(entry, delivered)
        record["reasons"] = ";".join(record["reasons"])
        writer.writerow(["" if record[c] is None else record[c] for c in COLUMNS])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.getvalue():
        yield buffer.getvalue()


def jsonl_lines(rows: Iterable[tuple[Entry, bool]]) -> Iterator[str]:
    for entry, delivered in rows:
        yield json.dumps(export_record(entry, delivered), ensure_ascii=False) + "\n"
