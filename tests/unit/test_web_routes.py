"""Routes through Flask's test client, over a real ledger file: login, CSRF, rate limit,
exports, health endpoints, metrics and what a page may show."""

from __future__ import annotations

import csv
import io
import json
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from kiosk.config import Config
from kiosk.export import COLUMNS, csv_lines
from kiosk.ledger import Ledger
from kiosk.model import Outcome
from kiosk.status import StatusBoard
from kiosk.uplink.outbox import Outbox
from kiosk.uplink.wire import Receipt
from kiosk.web import create_app
from tests.web_support import (
    PASSWORD,
    board_with_health,
    commit,
    csrf_from,
    health,
    seed,
    show_decision,
    web_config,
)

ID_NUMBER = re.compile(r"\d{17}[\dXx]")


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return web_config(tmp_path / "state", login_attempts=3)


@pytest.fixture
def board() -> StatusBoard:
    return board_with_health()


@pytest.fixture
def app(board: StatusBoard, config: Config) -> Flask:
    return create_app(board, config.ledger_path, config)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def login(client: FlaskClient, password: str = PASSWORD, **extra: str) -> tuple[int, str]:
    page = client.get("/staff/login")
    data = {"password": password, "csrf_token": csrf_from(page.text), **extra}
    response = client.post("/staff/login", data=data)
    return response.status_code, response.text


# -- login -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/staff", "/staff/export?format=csv", "/staff/export?format=xlsx"]
)
def test_staff_pages_refuse_without_login(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/staff/login?next=/staff")


def test_wrong_password_is_refused_with_a_message(client: FlaskClient) -> None:
    status, text = login(client, "wrong password")
    assert status == 401
    assert "密码错误" in text and "Wrong password" in text
    assert client.get("/staff").status_code == 303


def test_right_password_opens_the_staff_page(client: FlaskClient, config: Config) -> None:
    entries = seed(config.ledger_path, 12)
    status, _ = login(client, next="/staff?lang=en")
    assert status == 303
    page = client.get("/staff")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    for entry in entries:
        assert f'data-seq="{entry.seq}"' in page.text
        assert entry.masked_name and entry.masked_name in page.text
    counts = {o: sum(e.decision is o for e in entries) for o in Outcome}
    assert f'id="count-pass">{counts[Outcome.PASS]}<' in page.text
    assert f'id="count-total">{len(entries)}<' in page.text


def test_staff_page_shows_the_county_receipt_when_receipts_are_on(
    board: StatusBoard, tmp_path: Path
) -> None:
    config = web_config(tmp_path / "state", uplink={"receipts": True})
    seed(config.ledger_path, 8)
    client = create_app(board, config.ledger_path, config).test_client()
    login(client)
    assert "尚未收到县平台回执" in client.get("/staff").text
    outbox = Outbox(config.ledger_path).open()
    assert outbox.save_receipt(Receipt("k-001", 6, ((8, 8),), datetime.now(UTC)))
    outbox.close()
    page = client.get("/staff").text
    zh, en = page.find("县平台已确认至 #6"), page.find("County confirmed up to #6")
    assert 0 < zh < en  # Chinese first, English second

    plain = web_config(tmp_path / "state")  # receipts off: no such row
    other = create_app(board, plain.ledger_path, plain).test_client()
    login(other)
    assert "县平台已确认" not in other.get("/staff").text


def test_session_cookie_is_httponly_strict_and_secure(client: FlaskClient) -> None:
    page = client.get("/staff/login")
    cookie = page.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" in cookie
    assert cookie.startswith("kiosk_session=")


def test_logout_ends_the_session(client: FlaskClient) -> None:
    login(client)
    page = client.get("/staff")
    assert page.status_code == 200
    response = client.post("/staff/logout", data={"csrf_token": csrf_from(page.text)})
    assert response.status_code == 303
    assert client.get("/staff").status_code == 303


def test_a_new_password_ends_old_sessions(board: StatusBoard, config: Config) -> None:
    app = create_app(board, config.ledger_path, config)
    client = app.test_client()
    login(client)
    cookie = client.get_cookie("kiosk_session")
    assert cookie is not None
    from dataclasses import replace

    changed = replace(config, web=replace(config.web, staff_password_hash="pbkdf2:x$y$" + "0" * 64))
    app.extensions["kiosk.web"].config = changed
    assert client.get("/staff").status_code == 303


def test_next_cannot_leave_the_staff_pages(app: Flask) -> None:
    for target in ("https://evil.example/", "//evil.example/staff", "/healthz", "/staff\\x"):
        client = app.test_client()
        page = client.get("/staff/login")
        response = client.post(
            "/staff/login",
            data={"password": PASSWORD, "csrf_token": csrf_from(page.text), "next": target},
        )
        assert response.headers["Location"] == "/staff"


def test_login_is_off_without_a_password_hash(board: StatusBoard, tmp_path: Path) -> None:
    config = web_config(tmp_path, staff_password_hash=None)
    client = create_app(board, config.ledger_path, config).test_client()
    page = client.get("/staff/login")
    assert "kiosk web hash-password" in page.text and "<form" not in page.text
    response = client.post("/staff/login", data={"password": "x", "csrf_token": "y"})
    assert response.status_code == 400  # no session token yet: refused before anything else


# -- CSRF and rate limit -----------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "", "forged-token"])
def test_post_without_the_right_csrf_token_is_refused(
    client: FlaskClient, token: str | None
) -> None:
    client.get("/staff/login")  # the session now holds a token
    data = {"password": PASSWORD}
    if token is not None:
        data["csrf_token"] = token
    response = client.post("/staff/login", data=data)
    assert response.status_code == 400
    assert "表单已过期" in response.text
    assert client.get("/staff").status_code == 303


def test_logout_needs_the_csrf_token(client: FlaskClient) -> None:
    login(client)
    assert client.post("/staff/logout", data={}).status_code == 400
    assert client.get("/staff").status_code == 200


def test_rate_limit_refuses_even_the_right_password(client: FlaskClient) -> None:
    for _ in range(3):
        assert login(client, "guess")[0] == 401
    page = client.get("/staff/login")
    response = client.post(
        "/staff/login", data={"password": PASSWORD, "csrf_token": csrf_from(page.text)}
    )
    assert response.status_code == 429
    retry = int(response.headers["Retry-After"])
    assert 290 <= retry <= 300
    assert f"请 {retry} 秒后再试" in response.text
    assert client.get("/staff").status_code == 303


# -- export ------------------------------------------------------------------------------------


def test_csv_export_equals_the_ledger(client: FlaskClient, config: Config) -> None:
    seed(config.ledger_path, 30)
    login(client)
    response = client.get("/staff/export?format=csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    assert f'filename="ledger-k-001-{today}-{today}.csv"' in response.headers["Content-Disposition"]
    with Ledger(config.ledger_path) as ledger:
        expected = "\ufeff" + "".join(csv_lines(ledger.entries()))
    assert response.text == expected
    rows = list(csv.DictReader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert len(rows) == 30


def test_xlsx_export_equals_the_ledger(client: FlaskClient, config: Config) -> None:
    seed(config.ledger_path, 25)
    login(client)
    with client.get("/staff/export?format=xlsx") as response:
        assert response.status_code == 200
        data = response.data
    sheet = openpyxl.load_workbook(io.BytesIO(data))["台账"]
    got = list(sheet.iter_rows(values_only=True))
    assert list(got[0]) == list(COLUMNS)
    with Ledger(config.ledger_path) as ledger:
        expected = list(csv.reader(io.StringIO("".join(csv_lines(ledger.entries())))))[1:]
    assert len(got) - 1 == len(expected) == 25
    for row, want in zip(got[1:], expected, strict=True):
        shown = ["" if v is None else str(v) for v in row]
        assert shown == want


def test_export_range_is_in_the_configured_time_zone(client: FlaskClient, config: Config) -> None:
    # 23:30 UTC on the 27th is 07:30 on the 28th in Shanghai
    commit(config.ledger_path, Outcome.PASS, ts=datetime(2026, 11, 27, 23, 30, tzinfo=UTC))
    commit(config.ledger_path, Outcome.DENY, ts=datetime(2026, 11, 27, 15, 59, tzinfo=UTC))
    login(client)
    day = client.get("/staff/export?format=csv&from=2026-11-28&to=2026-11-28").text
    before = client.get("/staff/export?format=csv&from=2026-11-27&to=2026-11-27").text
    assert day.count("\r\n") == 2 and ",pass," in day
    assert before.count("\r\n") == 2 and ",deny," in before


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ("format=pdf", "导出格式只能是 CSV 或 XLSX"),
        ("from=28/11/2026", "日期格式应为 YYYY-MM-DD"),
        ("from=2026-11-28&to=2026-11-01", "结束日期早于开始日期"),
        ("from=2020-01-01&to=2026-11-28", "一次最多导出 400 天"),
    ],
)
def test_bad_export_requests_get_a_clear_reason(client: FlaskClient, query: str, text: str) -> None:
    login(client)
    response = client.get(f"/staff/export?{query}")
    assert response.status_code == 400
    assert text in response.text


def test_a_broken_ledger_gives_a_clear_503(board: StatusBoard, tmp_path: Path) -> None:
    config = web_config(tmp_path / "state")
    config.ledger_path.parent.mkdir(parents=True)
    config.ledger_path.write_bytes(b"this is not a database" * 100)
    client = create_app(board, config.ledger_path, config).test_client()
    login(client)
    response = client.get("/staff")
    assert response.status_code == 503
    assert "台账无法读取" in response.text and str(config.ledger_path) in response.text
    metrics = client.get("/metrics").text
    assert "kiosk_ledger_readable 0" in metrics
    assert "kiosk_web_ledger_errors_total 2" in metrics


# -- health, status, metrics -------------------------------------------------------------------


def test_healthz_is_200_only_when_every_worker_is_fresh(
    client: FlaskClient, board: StatusBoard
) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json["status"] == "ok"
    board.set_health(health(camera_fresh=False))
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json["stale"] == ["scanner"]
    board.set_health(health(thermo_state="unplugged"))
    assert client.get("/healthz").json["stale"] == ["thermometer"]


def test_healthz_fails_on_a_stale_snapshot_or_no_workers(
    client: FlaskClient, board: StatusBoard
) -> None:
    board.set_health(health(updated_t=time.monotonic() - 60))
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json["problems"] == ["health snapshot 60 s old"]
    board.set_health(health().__class__())
    assert client.get("/healthz").json["problems"] == ["no workers reported"]


def test_api_status_has_health_and_screen(client: FlaskClient, board: StatusBoard) -> None:
    show_decision(board, "deny")
    doc = client.get("/api/status").json
    assert doc["healthy"] is True
    assert doc["screen"]["outcome"] == "deny"
    assert doc["screen"]["version"] == board.screen().version
    assert set(doc["health"]["workers"]) == {"scanner", "thermometer", "uplink"}


def test_metrics_are_prometheus_text(client: FlaskClient, config: Config) -> None:
    entries = seed(config.ledger_path, 20)
    response = client.get("/metrics")
    assert response.content_type == "text/plain; version=0.0.4; charset=utf-8"
    samples = {
        (s.name, tuple(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }
    for outcome in Outcome:
        want = sum(e.decision is outcome for e in entries)
        assert samples[("kiosk_entries_today", (("outcome", outcome.value),))] == want
    assert samples[("kiosk_outbox_pending", ())] >= 20
    assert samples[("kiosk_healthy", ())] == 1


# -- what pages may show -----------------------------------------------------------------------


def test_kiosk_page_renders_the_current_screen_and_venue_qr(
    client: FlaskClient, board: StatusBoard
) -> None:
    page = client.get("/")
    assert "请出示健康码" in page.text and "扫码" in page.text and "戴口罩" in page.text
    assert '<svg viewBox="0 0' in page.text  # the venue code as an inline QR
    show_decision(board, "refer")
    page = client.get("/")
    assert 'data-outcome="refer"' in page.text and "请联系工作人员" in page.text
    english = client.get("/?lang=en").text
    main = english[english.index("<main") :]
    assert main.index("SEE STAFF") < main.index("请联系工作人员")
    assert '<html lang="en">' in english


def test_pages_show_no_full_name_id_number_or_raw_code(
    client: FlaskClient, board: StatusBoard, config: Config
) -> None:
    """Only what ``Screen`` and the ledger carry is shown, and an unmasked name never is."""
    show_decision(board, "pass")
    seed(config.ledger_path, 10)
    login(client)
    masked = [client.get(p).text for p in ("/", "/staff", "/api/status")]
    assert "张*中" in masked[0] and "张*中" in masked[2]
    # a careless caller passes a full name to the screen and the ledger: no page shows it
    board.show(masked_name="张三丰")
    commit(config.ledger_path, Outcome.PASS, masked_name="王小明")
    pages = [client.get(p).text for p in ("/", "/staff", "/api/status", "/metrics")]
    stream = client.get("/events", buffered=False)
    pages.append(next(stream.response).decode())
    stream.close()
    for text in pages:
        assert "张三丰" not in text and "王小明" not in text
        assert not ID_NUMBER.search(text)
        assert "CP1:" not in text and "HC1:" not in text


def test_security_headers(client: FlaskClient) -> None:
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    page = response.text
    assert "http://" not in page and "https://" not in page.replace("https://venue", "")  # no CDN


def test_static_files_ship_with_the_package(client: FlaskClient) -> None:
    for name in ("kiosk.js", "kiosk.css", "staff.css"):
        response = client.get(f"/static/{name}")
        assert response.status_code == 200 and len(response.data) > 500
        response.close()


def test_events_refuses_beyond_the_cap(app: Flask, config: Config) -> None:
    client = app.test_client()
    open_streams = [
        client.get("/events", buffered=False) for _ in range(config.web.sse_max_streams)
    ]
    assert all(r.status_code == 200 for r in open_streams)
    refused = client.get("/events")
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "5"
    first = next(open_streams[0].response)
    doc = json.loads(first.decode().split("data: ", 1)[1])
    assert doc["version"] == 0 and "请出示健康码" in doc["html"]
    for response in open_streams:
        response.close()
    assert client.get("/events", buffered=False).status_code == 200


def test_old_entries_show_their_date(client: FlaskClient, config: Config) -> None:
    commit(config.ledger_path, Outcome.DENY, "code.red", ts=datetime.now(UTC) - timedelta(days=3))
    login(client)
    page = client.get("/staff").text
    assert re.search(r"<td>\d{4}-\d{2}-\d{2} \d{2}:\d{2}</td>", page)
