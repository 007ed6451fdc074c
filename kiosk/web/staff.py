"""The staff page: today's counts, entries per hour, latest entries, alerts, devices, export."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from flask import Flask, abort, render_template, request, send_file
from markupsafe import Markup
from werkzeug.wrappers import Response

from kiosk.export import COLUMNS, csv_lines, export_record
from kiosk.ledger import Ledger
from kiosk.model import Entry, Outcome
from kiosk.web.auth import staff_required
from kiosk.web.charts import day_bounds, hour_chart_svg, hourly
from kiosk.web.devices import device_facts, device_rows
from kiosk.web.lists import county_list_rows
from kiosk.web.present import Bi, reason_text, safe_name, temperature_text
from kiosk.web.register import form_context
from kiosk.web.state import WebState
from kiosk.web.xlsx import write_xlsx

MAX_EXPORT_DAYS = 400
LATEST = 20
ALERTS = 10
BLOCK_CHARS = 64 * 1024


@dataclass(frozen=True)
class EntryRow:
    """One ledger entry as the staff page lists it (masked name only)."""

    seq: int
    when: str
    decision: str
    reasons: tuple[Bi, ...]
    masked_name: str | None
    temperature: str | None
    delivered: bool
    staff_name: str | None = None  # who registered it by hand (人工登记)
    clinical: bool = False  # the temperature was typed in from a clinical thermometer


def entry_row(entry: Entry, delivered: bool, tz: tzinfo, today: date) -> EntryRow:
    local = entry.ts.astimezone(tz)
    when = local.strftime("%H:%M:%S" if local.date() == today else "%Y-%m-%d %H:%M")
    return EntryRow(
        seq=entry.seq,
        when=when,
        decision=entry.decision.value,
        reasons=tuple(reason_text(r) for r in entry.reasons),
        masked_name=safe_name(entry.masked_name),
        temperature=temperature_text(entry.temperature_c),
        delivered=delivered,
        staff_name=entry.staff_name,
        clinical=entry.temperature_source == "clinical",
    )


def parse_range(first_text: str | None, last_text: str | None, today: date) -> tuple[date, date]:
    """The export's inclusive local date range; 400 with a clear reason when it is not valid."""
    try:
        first = date.fromisoformat(first_text) if first_text else today
        last = date.fromisoformat(last_text) if last_text else first
    except ValueError:
        abort(400, description="date")
    if last < first:
        abort(400, description="range")
    if (last - first).days >= MAX_EXPORT_DAYS:
        abort(400, description="span")
    return first, last


def _xlsx_rows(rows: Iterator[tuple[Entry, bool]]) -> Iterator[list[Any]]:
    for entry, delivered in rows:
        record = export_record(entry, delivered)
        record["reasons"] = ";".join(record["reasons"])
        yield [record[c] for c in COLUMNS]


def register(app: Flask, state: WebState) -> None:
    """Add ``/staff`` and ``/staff/export`` (both need a staff session)."""
    guard = staff_required(state)

    @app.get("/staff")
    @guard
    def staff() -> str:
        tz = state.tz
        now = datetime.now(tz)
        today = now.date()
        since, until = day_bounds(today, today, tz)
        with Ledger(state.ledger_path) as ledger:
            counts = ledger.counts(since, until)
            buckets = hourly((entry for entry, _ in ledger.entries(since, until)), tz)
            latest = ledger.latest(LATEST)
            alerts = ledger.latest(ALERTS, alerts_only=True)
            outbox = ledger.outbox_status()
        health = state.view.health()
        facts = device_facts(health)
        lang = state.language()
        title = "每小时入场人次" if lang == "zh" else "Entries per hour"
        return render_template(
            "staff.html",
            lang=lang,
            health=health,
            today=today.isoformat(),
            now=now.strftime("%Y-%m-%d %H:%M"),
            timezone=state.config.web.timezone,
            counts={o.value: counts[o] for o in Outcome},
            total=sum(counts.values()),
            chart=Markup(hour_chart_svg(buckets, title)),  # noqa: S704 - numbers and escaped text
            latest=[entry_row(e, d, tz, today) for e, d in latest],
            alerts=[entry_row(e, d, tz, today) for e, d in alerts],
            devices=device_rows(
                facts,
                outbox.pending,
                outbox.oldest_age_s,
                outbox.parked,
                receipts=state.config.uplink.receipts,
                confirmed_seq=outbox.confirmed_seq,
            )
            + county_list_rows(health),
            workers=health.workers,
            kiosk_id=state.config.kiosk.id,
            export_range=export_defaults(today),
            **form_context(),
        )

    @app.get("/staff/export")
    @guard
    def export() -> Response:
        tz = state.tz
        kind = request.args.get("format", "csv")
        if kind not in ("csv", "xlsx"):
            abort(400, description="format")
        first, last = parse_range(
            request.args.get("from"), request.args.get("to"), datetime.now(tz).date()
        )
        since, until = day_bounds(first, last, tz)
        name = f"ledger-{state.config.kiosk.id}-{first}-{last}.{kind}"
        ledger = Ledger(state.ledger_path).open()
        if kind == "csv":
            rows = ledger.entries(since, until)

            def body() -> Iterator[str]:
                block = ["\ufeff"]  # so that spreadsheet programs read the file as UTF-8
                size = 0
                for line in csv_lines(rows):  # one write per ~64 KiB, not per row
                    block.append(line)
                    size += len(line)
                    if size >= BLOCK_CHARS:
                        yield "".join(block)
                        block, size = [], 0
                if block:
                    yield "".join(block)

            response = Response(body(), mimetype="text/csv")
            response.call_on_close(ledger.close)
            response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
            return response
        spool = tempfile.SpooledTemporaryFile(max_size=4 * 1024 * 1024)
        try:
            write_xlsx(spool, "台账", COLUMNS, _xlsx_rows(ledger.entries(since, until)))
        except BaseException:
            spool.close()
            raise
        finally:
            ledger.close()
        spool.seek(0)
        return send_file(
            spool,
            mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            as_attachment=True,
            download_name=name,
            max_age=0,
        )


def export_defaults(today: date) -> dict[str, str]:
    """The export form's initial range: the last seven days."""
    return {"from": (today - timedelta(days=6)).isoformat(), "to": today.isoformat()}
