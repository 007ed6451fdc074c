"""The desk's pages: alerts (立即报备), fleet, ledgers (台账), tracing (流调), audit log."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import Flask, Response, abort, g, jsonify, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from county.desk import alerts as alerts_mod
from county.desk import fleet as fleet_mod
from county.desk import ledger
from county.notify.worker import deliveries
from county.trace import TraceError, audit_log, co_visitors, trace_person
from county.web.app import DeskState, requires
from kiosk.model import Outcome
from kiosk.reasons import describe
from kiosk.web.charts import hour_chart_svg
from kiosk.web.xlsx import write_xlsx

MAX_NOTE = 500
DECISIONS = {
    Outcome.PASS.value: ("通行", "pass"),
    Outcome.DENY.value: ("禁止", "deny"),
    Outcome.REFER.value: ("转人工", "see staff"),
}


def _now() -> datetime:
    return datetime.now(UTC)


def _day(text: str | None, default: date) -> date:
    try:
        return date.fromisoformat(text) if text else default
    except ValueError:
        abort(400, description="day")


def _local(state: DeskState, ts: datetime | None) -> str:
    return "" if ts is None else ts.astimezone(state.tz).strftime("%Y-%m-%d %H:%M:%S")


def register(app: Flask, state: DeskState) -> None:
    cfg = state.config

    @app.template_filter("local")
    def local_filter(ts: datetime | None) -> str:
        return _local(state, ts)

    @app.template_filter("reason")
    def reason_filter(code: str) -> dict[str, str]:
        text = describe(code)
        return {"zh": text.zh, "en": text.en}

    @app.get("/healthz")
    def healthz() -> tuple[dict[str, Any], int]:
        report = state.health()
        return report, 200 if report.get("ok") else 503

    # -- alerts -----------------------------------------------------------------------------

    @app.get("/")
    @requires(state, "view")
    def alerts_page() -> str:
        return render_template(
            "alerts.html",
            alerts=alerts_mod.recent_alerts(state.db),
            deliveries=deliveries(state.db, 50),
        )

    @app.get("/alerts/table")
    @requires(state, "view")
    def alerts_table() -> str:
        return render_template("_alerts_table.html", alerts=alerts_mod.recent_alerts(state.db))

    @app.get("/api/alerts")
    @requires(state, "view")
    def alerts_json() -> Response:
        return jsonify([a.to_dict() for a in alerts_mod.recent_alerts(state.db)])

    @app.post("/alerts/ack")
    @requires(state, "ack")
    def acknowledge() -> BaseResponse:
        key = request.form.get("key", "")[:64]
        note = request.form.get("note", "").strip()[:MAX_NOTE]
        if not key or not alerts_mod.alert_exists(state.db, key):
            abort(404)
        alerts_mod.acknowledge(state.db, key, g.user.name, note, _now())
        return redirect(url_for("alerts_page", lang=request.args.get("lang")), code=303)

    # -- fleet ------------------------------------------------------------------------------

    def fleet_views() -> list[fleet_mod.KioskView]:
        f = cfg.fleet
        return fleet_mod.fleet(state.db, _now(), f.silent_after_s, f.clock_skew_warn_s)

    @app.get("/fleet")
    @requires(state, "view")
    def fleet_page() -> str:
        return render_template(
            "fleet.html", kiosks=fleet_views(), silent_after=cfg.fleet.silent_after_s
        )

    @app.get("/api/fleet")
    @requires(state, "view")
    def fleet_json() -> Response:
        return jsonify([k.to_dict() for k in fleet_views()])

    # -- ledgers ----------------------------------------------------------------------------

    @app.get("/ledger")
    @requires(state, "view")
    def ledger_page() -> str:
        today = _now().astimezone(state.tz).date()
        day = _day(request.args.get("day"), today)
        site = request.args.get("site", "")[:64]
        counts = ledger.venue_counts(state.db, day, state.tz)
        rows: list[dict[str, Any]] = []
        chart = ""
        if site:
            rows = ledger.records(state.db, site, day, state.tz, limit=2000)
            chart = hour_chart_svg(ledger.hourly(state.db, site, day, state.tz), f"{site} {day}")
        return render_template(
            "ledger.html",
            counts=counts,
            sites=ledger.sites(state.db),
            site=site,
            day=day,
            rows=rows,
            chart=chart,
            decisions=DECISIONS,
        )

    @app.get("/ledger/export.<fmt>")
    @requires(state, "view")
    def ledger_export(fmt: str) -> Response:
        site = request.args.get("site", "")[:64]
        if not site or fmt not in ("csv", "xlsx"):
            abort(400)
        today = _now().astimezone(state.tz).date()
        day = _day(request.args.get("day"), today)
        rows = ledger.records(state.db, site, day, state.tz)
        name = f"ledger-{day}.{fmt}"
        if fmt == "csv":
            response = Response(ledger.csv_text(rows), mimetype="text/csv; charset=utf-8")
        else:
            buf = io.BytesIO()
            write_xlsx(
                buf, f"{site} {day}", ledger.COLUMNS, ([r[c] for c in ledger.COLUMNS] for r in rows)
            )
            response = Response(
                buf.getvalue(),
                mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            )
        response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
        return response

    # -- tracing ----------------------------------------------------------------------------

    @app.get("/trace")
    @requires(state, "trace")
    def trace_page() -> str:
        return render_template("trace.html", visits=None, sites=ledger.sites(state.db), error=None)

    @app.post("/trace/person")
    @requires(state, "trace")
    def trace_person_post() -> tuple[str, int]:
        query = request.form.get("query", "")[:160]
        try:
            visits = trace_person(
                state.db, state.keys, query, cfg.county.id, g.user.name, _now(), cfg.trace.max_rows
            )
        except TraceError as exc:
            return render_template(
                "trace.html", visits=None, sites=ledger.sites(state.db), error=str(exc)
            ), 400
        return render_template(
            "trace.html", visits=visits, sites=ledger.sites(state.db), error=None, kind="person"
        ), 200

    @app.post("/trace/venue")
    @requires(state, "trace")
    def trace_venue_post() -> tuple[str, int]:
        site = request.form.get("site", "")[:64]
        try:
            start = datetime.fromisoformat(request.form.get("start", "")).replace(tzinfo=state.tz)
            end = datetime.fromisoformat(request.form.get("end", "")).replace(tzinfo=state.tz)
            if end - start > timedelta(hours=cfg.trace.max_window_h):
                raise TraceError(f"the window may be at most {cfg.trace.max_window_h:g} h")
            visits = co_visitors(
                state.db, site, start, end, g.user.name, _now(), cfg.trace.max_rows
            )
        except (TraceError, ValueError) as exc:
            return render_template(
                "trace.html", visits=None, sites=ledger.sites(state.db), error=str(exc)
            ), 400
        return render_template(
            "trace.html", visits=visits, sites=ledger.sites(state.db), error=None, kind="venue"
        ), 200

    @app.get("/audit")
    @requires(state, "audit")
    def audit_page() -> str:
        return render_template("audit.html", lines=audit_log(state.db))
