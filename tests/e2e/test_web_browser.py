"""The kiosk screen and staff page in headless Chromium against a real waitress server: each
outcome with its colour and text, language switch, no scrolling, stale results hidden, the
staff login, and a CSV download that equals the ledger."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from kiosk.config import Config
from kiosk.model import Outcome
from kiosk.service.status import Phase, StatusBoard
from kiosk.web import WebServer
from tests.web_support import (
    DECISIONS,
    PASSWORD,
    commit,
    csv_rows,
    idle,
    ledger_csv_rows,
    show_decision,
    web_config,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

# the screen's colours as the browser computes them
COLOURS = {"pass": "rgb(10, 125, 50)", "deny": "rgb(198, 40, 40)", "refer": "rgb(242, 169, 0)"}
HEADLINES = {
    "pass": ("通行", "PASS"),
    "deny": ("禁止", "DENY"),
    "refer": ("请联系工作人员", "SEE STAFF"),
}


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return web_config(tmp_path / "state")


def wait_version(page: Page, board: StatusBoard) -> None:
    page.wait_for_selector(f'#screen[data-version="{board.screen().version}"]', timeout=5000)


def background(page: Page) -> str:
    colour: str = page.eval_on_selector("#screen", "el => getComputedStyle(el).backgroundColor")
    return colour


def fits(page: Page) -> bool:
    fit: bool = page.evaluate(
        "() => document.documentElement.scrollHeight <= innerHeight"
        " && document.documentElement.scrollWidth <= innerWidth"
        " && [...document.querySelectorAll('#screen *')].every(el => {"
        "   const r = el.getBoundingClientRect();"
        "   return r.bottom <= innerHeight + 1 && r.right <= innerWidth + 1; })"
    )
    return fit


def test_kiosk_screen_walks_through_a_visit_and_each_outcome(
    page: Page, server: WebServer, board: StatusBoard, shots: Path
) -> None:
    page.goto(server.url + "/")
    assert page.inner_text("#screen .headline").startswith("请出示健康码")
    assert "扫码" in page.inner_text(".reminders") and "戴口罩" in page.inner_text(".reminders")
    assert page.is_visible("#venue svg")
    page.screenshot(path=str(shots / "kiosk-idle.png"))

    board.show(phase=Phase.VERIFYING, code_seen=True, frame_t=time.monotonic())
    wait_version(page, board)
    assert "验证中" in page.inner_text(".steps")
    assert not page.is_visible("#venue")

    board.show(phase=Phase.MEASURING, temperature_state="no_subject")
    wait_version(page, board)
    assert "请将手腕或额头靠近测温区" in page.inner_text(".steps")

    for name in ("pass", "deny", "refer"):
        show_decision(board, name)
        wait_version(page, board)
        zh, en = HEADLINES[name]
        headline = page.inner_text("#screen .result .headline")
        assert headline.index(zh) < headline.index(en)
        assert background(page) == COLOURS[name]
        facts = page.inner_text(".facts")
        assert str(DECISIONS[name]["masked_name"]) in facts
        assert f"{DECISIONS[name]['temperature_c']:.1f} °C" in facts
        page.screenshot(path=str(shots / f"kiosk-{name}.png"))
    reasons = page.inner_text(".reasons")
    assert "体温异常，请联系工作人员" in reasons and "Elevated temperature" in reasons

    idle(board)
    wait_version(page, board)
    assert page.is_visible("#venue svg")
    assert page.inner_text("#screen .headline").startswith("请出示健康码")


def test_l_key_switches_to_english_first(page: Page, server: WebServer, board: StatusBoard) -> None:
    page.goto(server.url + "/")
    page.keyboard.press("L")
    page.wait_for_url("**/?lang=en")
    assert page.inner_text("#screen .headline").startswith("Please show your health code")
    show_decision(board, "deny")
    wait_version(page, board)  # the stream now renders in English too
    headline = page.inner_text("#screen .result .headline")
    assert headline.index("DENY") < headline.index("禁止")
    page.keyboard.press("L")
    page.wait_for_url("**/?lang=zh")
    assert page.inner_text("#screen .result .headline").startswith("禁止")


@pytest.mark.parametrize("size", [(800, 480), (1920, 1080), (1280, 800)])
def test_no_scrolling_at_kiosk_display_sizes(
    browser: Browser, server: WebServer, board: StatusBoard, size: tuple[int, int]
) -> None:
    context = browser.new_context(viewport={"width": size[0], "height": size[1]})
    page = context.new_page()
    try:
        page.goto(server.url + "/")
        assert fits(page), "idle"
        board.show(phase=Phase.MEASURING, code_seen=True, temperature_state="no_subject")
        wait_version(page, board)
        assert fits(page), "measuring"
        show_decision(board, "refer")
        board.show(
            reasons=("temp.fever", "code.expired", "verify.unreachable"),
            notices=("device.thermometer", "uplink.offline"),
        )
        wait_version(page, board)
        assert fits(page), "refer with three reasons and two notices"
        page.goto(server.url + "/?lang=en")
        assert fits(page), "the same in English"
    finally:
        context.close()


def test_a_result_never_outlives_its_dwell_time(
    page: Page, server: WebServer, board: StatusBoard
) -> None:
    page.goto(server.url + "/")
    # a dwell long against a busy machine's page update (0.6 s raced it); then wait for expiry
    show_decision(board, "pass", dwell_s=2.0)
    wait_version(page, board)
    assert page.is_visible(".result")
    page.wait_for_selector("#screen.expired", timeout=10_000)
    assert not page.is_visible(".result")
    assert page.inner_text(".wait-note").startswith("请稍候")
    assert background(page) != COLOURS["pass"]


def test_a_lost_stream_hides_the_result_and_says_so(
    page: Page, server: WebServer, board: StatusBoard
) -> None:
    page.goto(server.url + "/")
    show_decision(board, "pass")
    wait_version(page, board)
    assert page.is_hidden("#offline")
    server.stop()
    page.wait_for_selector("#offline", state="visible", timeout=5000)
    assert "连接中断" in page.inner_text("#offline")
    assert not page.is_visible(".result")
    assert background(page) != COLOURS["pass"]


def test_staff_page_needs_a_login_then_shows_the_entries(
    page: Page, server: WebServer, config: Config, shots: Path
) -> None:
    committed = [
        commit(config.ledger_path, Outcome.PASS, masked_name="张*中", temperature_c=36.4,
               temperature_state="ok", code_status="green"),
        commit(config.ledger_path, Outcome.DENY, "code.red", masked_name="李*",
               temperature_c=36.7, temperature_state="ok", code_status="red"),
        commit(config.ledger_path, Outcome.REFER, "temp.fever", masked_name="欧**明",
               temperature_c=37.9, temperature_state="fever", code_status="green"),
        commit(config.ledger_path, Outcome.PASS, masked_name="G* M*", temperature_c=36.1,
               temperature_state="ok", code_status="green"),
    ]  # fmt: skip
    page.goto(server.url + "/staff")
    assert "/staff/login" in page.url
    assert page.locator("#latest").count() == 0

    page.fill("#password", "not the password")
    page.click("button[type=submit]")
    assert "密码错误" in page.inner_text(".message.error")
    assert "/staff/login" in page.url

    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#latest")
    assert page.url.endswith("/staff")
    for entry in committed:
        row = page.locator(f'#latest tr[data-seq="{entry.seq}"]')
        assert entry.masked_name in row.inner_text()
    assert page.inner_text("#count-pass") == "2"
    assert page.inner_text("#count-deny") == "1"
    assert page.inner_text("#count-refer") == "1"
    assert page.locator("#alerts tbody tr").count() == 2  # the red code and the fever
    assert page.locator("svg.chart rect").count() >= 1
    assert "15.0 fps" in page.inner_text("#devices")
    page.screenshot(path=str(shots / "staff.png"), full_page=True)

    page.click("text=退出登录")
    page.goto(server.url + "/staff")
    assert "/staff/login" in page.url


def test_csv_downloaded_in_the_browser_equals_the_ledger(
    page: Page, server: WebServer, config: Config
) -> None:
    for i in range(15):
        outcome = (Outcome.PASS, Outcome.DENY, Outcome.REFER)[i % 3]
        name = "王*明" if i else '=HYPERLINK("http://evil.example")'  # a hostile name
        commit(config.ledger_path, outcome, masked_name=name, temperature_c=36.0 + i / 10)
    page.goto(server.url + "/staff/login")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#export-csv")
    with page.expect_download() as info:
        page.click("#export-csv")
    download = info.value
    assert download.suggested_filename.startswith("ledger-k-001-")
    data = Path(download.path()).read_bytes()
    rows = csv_rows(data.decode("utf-8"))
    assert rows == ledger_csv_rows(config.ledger_path) and len(rows) == 15
    assert data.decode("utf-8-sig").count("\r\n") == 16
