"""The web layer's pure parts: chart, XLSX writer, login limiter, metrics text, device facts."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from prometheus_client.parser import text_string_to_metric_families

from kiosk.model import Entry, Outcome
from kiosk.status import KioskHealth, Phase, Screen, WorkerHealth
from kiosk.storage import OutboxStatus
from kiosk.web.charts import day_bounds, hour_chart_svg, hourly
from kiosk.web.devices import device_facts, device_rows, human_bytes
from kiosk.web.limiter import LoginLimiter
from kiosk.web.metrics import Scrape, render
from kiosk.web.xlsx import write_xlsx
from tests.web_support import health

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _entry(ts: datetime, decision: Outcome) -> Entry:
    return Entry.new("k-001", "s", decision, ts=ts)


def test_day_bounds_are_local_midnights() -> None:
    since, until = day_bounds(date(2026, 11, 28), date(2026, 11, 29), SHANGHAI)
    assert since.astimezone(UTC) == datetime(2026, 11, 27, 16, 0, tzinfo=UTC)
    assert until.astimezone(UTC) == datetime(2026, 11, 29, 16, 0, tzinfo=UTC)


def test_hourly_buckets_use_the_local_hour() -> None:
    entries = [
        _entry(datetime(2026, 11, 28, 16, 5, tzinfo=UTC), Outcome.PASS),  # 00:05 in Shanghai
        _entry(datetime(2026, 11, 29, 0, 59, tzinfo=UTC), Outcome.DENY),  # 08:59
        _entry(datetime(2026, 11, 29, 1, 0, tzinfo=UTC), Outcome.REFER),  # 09:00
        _entry(datetime(2026, 11, 29, 1, 30, tzinfo=UTC), Outcome.PASS),
    ]
    buckets = hourly(entries, SHANGHAI)
    assert buckets[0] == {Outcome.PASS: 1, Outcome.DENY: 0, Outcome.REFER: 0}
    assert buckets[8][Outcome.DENY] == 1
    assert buckets[9] == {Outcome.PASS: 1, Outcome.DENY: 0, Outcome.REFER: 1}
    assert sum(sum(b.values()) for b in buckets) == 4


def test_hour_chart_is_valid_svg_with_bars_in_proportion() -> None:
    buckets = [{o: 0 for o in Outcome} for _ in range(24)]
    buckets[9] = {Outcome.PASS: 30, Outcome.DENY: 3, Outcome.REFER: 2}
    buckets[14] = {Outcome.PASS: 10, Outcome.DENY: 0, Outcome.REFER: 0}
    svg = hour_chart_svg(buckets, 'entries <per> "hour"')
    root = ET.fromstring(svg)  # noqa: S314 - our own SVG; a real parser proves it well-formed
    ns = "{http://www.w3.org/2000/svg}"
    assert root.find(f"{ns}title").text == 'entries <per> "hour"'
    bars = {(r.get("data-hour"), r.get("data-outcome")): r for r in root.iter(f"{ns}rect")}
    assert set(bars) == {("9", "pass"), ("9", "deny"), ("9", "refer"), ("14", "pass")}
    heights = {k: float(r.get("height")) for k, r in bars.items()}
    assert heights[("9", "pass")] == pytest.approx(3 * heights[("14", "pass")], rel=0.01)
    assert heights[("9", "pass")] == pytest.approx(10 * heights[("9", "deny")], rel=0.01)
    # the axis tops out at a round number at or above the tallest bar (35 -> 50)
    labels = [t.text for t in root.iter(f"{ns}text")]
    assert "50" in labels


def test_empty_chart_still_renders() -> None:
    svg = hour_chart_svg([{o: 0 for o in Outcome} for _ in range(24)], "x")
    root = ET.fromstring(svg)  # noqa: S314 - our own SVG
    assert not list(root.iter("{http://www.w3.org/2000/svg}rect"))


def test_xlsx_round_trips_through_openpyxl() -> None:
    header = ["seq", "name", "temperature_c", "delivered", "note"]
    rows = [
        [1, "张*中", 36.5, True, "=1+1"],  # a formula-looking text stays text
        [2, "G* M*", None, False, " padded "],
        [3, "x\x00y\x1f", 37.25, True, "<b>&amp;</b>"],
    ]
    out = io.BytesIO()
    assert write_xlsx(out, "台账", header, rows) == 3
    out.seek(0)
    book = openpyxl.load_workbook(out)
    sheet = book["台账"]
    got = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert got[0] == header
    assert got[1] == [1, "张*中", 36.5, True, "=1+1"]
    assert sheet["E2"].data_type == "s"
    assert got[2] == [2, "G* M*", None, False, " padded "]
    assert got[3] == [3, "xy", 37.25, True, "<b>&amp;</b>"]
    assert sheet.freeze_panes == "A2"


def test_xlsx_many_columns_get_letters_beyond_z() -> None:
    out = io.BytesIO()
    write_xlsx(out, "s", [f"c{i}" for i in range(30)], [list(range(30))])
    out.seek(0)
    sheet = openpyxl.load_workbook(out).active
    assert sheet["AD2"].value == 29


def test_limiter_locks_after_the_allowed_failures_and_releases_in_time() -> None:
    limiter = LoginLimiter(attempts=3, window_s=60)
    for t in (0.0, 1.0, 2.0):
        assert limiter.retry_after("10.0.0.2", t) is None
        limiter.failed("10.0.0.2", t)
    assert limiter.retry_after("10.0.0.2", 3.0) == pytest.approx(57.0)
    assert limiter.retry_after("10.0.0.3", 3.0) is None  # another client is not locked out
    assert limiter.retry_after("10.0.0.2", 60.5) is None  # the first failure left the window
    limiter.succeeded("10.0.0.2")
    assert limiter.retry_after("10.0.0.2", 61.0) is None


def test_limiter_caps_all_clients_together() -> None:
    limiter = LoginLimiter(attempts=2, window_s=100)
    for i in range(8):
        limiter.failed(f"10.0.1.{i}", float(i))
    assert limiter.retry_after("10.0.9.9", 8.0) == pytest.approx(92.0)


def test_limiter_memory_is_bounded() -> None:
    limiter = LoginLimiter(attempts=2, window_s=100, max_clients=10)
    for i in range(500):
        limiter.failed(f"addr-{i}", float(i) * 0.01)
    assert limiter.remembered <= 11


def _scrape(h: KioskHealth, **overrides: object) -> Scrape:
    values: dict[str, object] = {
        "health": h,
        "healthy": True,
        "snapshot_age_s": 0.4,
        "screen": Screen(version=12, phase=Phase.DECIDED, outcome=Outcome.PASS),
        "facts": device_facts(h),
        "counts": {Outcome.PASS: 40, Outcome.DENY: 2, Outcome.REFER: 3},
        "outbox": OutboxStatus(pending=5, oldest_age_s=12.5, parked=1),
        "streams": 1,
        "counters": {"sse_refused": 0, "login_failures": 4, "login_refused": 1, "ledger_errors": 0},
    }
    values.update(overrides)
    return Scrape(**values)  # type: ignore[arg-type]


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_metrics_parse_with_the_prometheus_parser() -> None:
    text = render(_scrape(health()))
    samples = _samples(text)
    assert samples[("kiosk_outbox_pending", ())] == 5
    assert samples[("kiosk_outbox_oldest_age_seconds", ())] == 12.5
    assert samples[("kiosk_entries_today", (("outcome", "deny"),))] == 2
    assert samples[("kiosk_worker_fresh", (("worker", "scanner"),))] == 1
    assert samples[("kiosk_worker_restarts_total", (("worker", "thermometer"),))] == 1
    assert samples[("kiosk_camera_fps", ())] == 15.0
    assert samples[("kiosk_thermometer_state", (("state", "connected"),))] == 1
    assert samples[("kiosk_thermometer_state", (("state", "unplugged"),))] == 0
    assert samples[("kiosk_broker_connected", ())] == 1
    assert ("kiosk_county_confirmed_seq", ()) not in samples  # no receipt (receipts off)
    receipt = OutboxStatus(pending=0, oldest_age_s=None, parked=0, confirmed_seq=41)
    assert (
        _samples(render(_scrape(health(), outbox=receipt)))[("kiosk_county_confirmed_seq", ())]
        == 41
    )
    assert samples[("kiosk_screen_phase", (("phase", "decided"),))] == 1
    assert samples[("kiosk_web_login_failures_total", ())] == 4
    assert samples[("kiosk_healthy", ())] == 1
    assert text.count("# TYPE kiosk_worker_fresh gauge") == 1
    assert text.endswith("\n")


def test_metrics_escape_label_values_and_skip_what_is_unknown() -> None:
    h = KioskHealth(kiosk='k"1', site="a\\b\nc", workers=(WorkerHealth("w", False, None),))
    samples = _samples(render(_scrape(h, healthy=False, counts=None, outbox=None)))
    assert samples[("kiosk_info", (("kiosk", 'k"1'), ("site", "a\\b\nc"), ("version", "")))] == 1
    assert samples[("kiosk_ledger_readable", ())] == 0
    assert samples[("kiosk_healthy", ())] == 0
    names = {name for name, _ in samples}
    assert "kiosk_outbox_pending" not in names
    assert "kiosk_camera_fps" not in names
    assert "kiosk_worker_progress_age_seconds" not in names


def test_device_rows_read_the_workers_details() -> None:
    rows = device_rows(device_facts(health(thermo_state="unplugged", connected=False)), 3, 700.0, 0)
    by_name = {r.name.en: r for r in rows}
    assert by_name["Camera"].ok is True
    assert by_name["Camera"].detail.en == "15.0 fps · last frame 0.1 s ago"
    assert by_name["Thermometer"].ok is False
    assert by_name["Thermometer"].detail.zh == "已断开 · 最近读数 33.2 °C"
    assert by_name["County broker"].ok is False
    assert by_name["Outbox"].ok is False  # oldest pending is 700 s old
    assert by_name["Disk"].detail.en == "12.0 GB free"


def test_device_rows_without_any_worker_say_no_data() -> None:
    rows = device_rows(device_facts(KioskHealth()), None, None, None)
    assert {r.ok for r in rows} == {None}
    assert human_bytes(512) == "512 B"
