"""Voice prompts and 一码一卡 in headless Chromium against a real waitress server: each outcome
and prompt plays its clip (the page reports what it played), nothing plays twice for one event
or when voice is off, and a result shows the health code and itinerary card checks."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.sync_api import Page

from kiosk.config import Config
from kiosk.model import Outcome
from kiosk.service.status import Phase, StatusBoard
from kiosk.web import WebServer
from tests.web_support import idle, show_decision, web_config

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


@pytest.fixture
def config(tmp_path: Path, request: pytest.FixtureRequest) -> Config:
    voice = getattr(request, "param", True)
    return web_config(tmp_path / "state", voice=voice, voice_volume=0.5)


def played(page: Page) -> list[str]:
    text: str = page.get_attribute("#voice", "data-played") or ""
    return text.split()


def wait_played(page: Page, count: int) -> list[str]:
    page.wait_for_function(
        "n => (document.querySelector('#voice').dataset.played || '').split(' ')"
        ".filter(Boolean).length >= n",
        arg=count,
        timeout=8000,
    )
    return played(page)


def test_each_outcome_and_prompt_plays_its_clip(
    page: Page, server: WebServer, board: StatusBoard
) -> None:
    page.goto(server.url + "/")
    assert page.get_attribute("#voice", "data-enabled") == "on"
    assert page.get_attribute("#voice", "data-volume") == "0.5"
    assert played(page) == []
    expected: list[str] = []
    for name, clips in (("pass", ["pass", "mask"]), ("deny", ["deny"]), ("refer", ["refer"])):
        show_decision(board, name)
        expected += clips
        assert wait_played(page, len(expected)) == expected, name
        idle(board)
    # a code read, waiting for the temperature: 请测量体温
    board.show(phase=Phase.MEASURING, code_seen=True, frame_t=time.monotonic())
    expected.append("measure")
    assert wait_played(page, len(expected)) == expected
    # the same event again (a temperature update while measuring) is not spoken twice
    board.show(temperature_state="measuring")
    idle(board)
    # a temperature without a code: 请出示健康码
    now = time.monotonic()
    board.show(temperature_state="ok", temperature_c=36.5, temperature_t=now)
    expected.append("show_code")
    assert wait_played(page, len(expected)) == expected
    time.sleep(0.5)
    assert played(page) == expected
    # every clip the page asked for was served
    for clip in set(expected):
        response = page.request.get(f"{server.url}/static/voice/{clip}.ogg")
        assert response.ok and response.body()[:4] == b"OggS", clip


def test_a_new_result_cuts_the_old_prompt_short(
    page: Page, server: WebServer, board: StatusBoard
) -> None:
    page.goto(server.url + "/")
    show_decision(board, "pass")
    page.wait_for_selector('#screen[data-outcome="pass"]')
    show_decision(board, "deny")  # the next visitor's result while 体温正常，请通行 still plays
    page.wait_for_function(
        "() => (document.querySelector('#voice').dataset.played || '').includes('deny')"
    )
    time.sleep(4.0)  # longer than pass + mask together
    heard = played(page)
    assert heard[-1] == "deny" and "mask" not in heard, heard  # the old queue did not go on
    assert not any(h.startswith("refused:") for h in heard), heard


@pytest.mark.parametrize("config", [False], indirect=True)
def test_voice_off_plays_nothing(page: Page, server: WebServer, board: StatusBoard) -> None:
    page.goto(server.url + "/")
    assert page.get_attribute("#voice", "data-enabled") == "off"
    show_decision(board, "pass")
    page.wait_for_selector('#screen[data-outcome="pass"]')
    assert page.get_attribute("#screen", "data-voice") == "pass mask"
    time.sleep(1.0)
    assert played(page) == []


def test_result_shows_health_code_and_itinerary_checks(
    page: Page, server: WebServer, board: StatusBoard, shots: Path
) -> None:
    page.goto(server.url + "/")
    show_decision(board, "pass")
    board.show(itinerary_status="normal")
    page.wait_for_selector('#screen .check[data-check="itinerary"]')
    assert page.inner_text('.check[data-check="code"]').startswith("健康码")
    assert "✓" in page.inner_text('.check[data-check="code"]')
    assert "✓" in page.inner_text('.check[data-check="itinerary"]')
    board.show(
        outcome=Outcome.REFER,
        reasons=("itinerary.starred",),
        itinerary_status="starred",
    )
    page.wait_for_selector('#screen .check[data-check="itinerary"][data-state="warn"]')
    text = page.inner_text("#screen")
    assert "行程卡" in text and "带星号" in text and "请联系工作人员" in text
    page.screenshot(path=str(shots / "kiosk-itinerary-starred.png"))
