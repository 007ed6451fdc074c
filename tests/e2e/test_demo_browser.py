"""The whole kiosk on the demo's simulated devices, watched in headless Chromium: every demo
visitor gets the right outcome on the screen (and hears its voice clip), in the ledger and at
the broker; the staff page needs a login, lists the entries, and its CSV equals the ledger; a
staff member registers a visitor without a code (人工登记) through the real page."""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page

from kiosk.demo import VISITORS, DemoRig, Seen, play_visitor
from kiosk.gate.signals import Gate
from kiosk.ledger import Ledger
from kiosk.model import Outcome
from kiosk.service.app import Kiosk
from kiosk.uplink.collector import Collector
from kiosk.web.present import OUTCOME_VOICE
from tests.integration.test_uplink import wait_until
from tests.web_support import csv_rows, ledger_csv_rows

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

COLOURS = {"pass": "rgb(10, 125, 50)", "deny": "rgb(198, 40, 40)", "refer": "rgb(242, 169, 0)"}
HEADLINES = {"pass": "通行", "deny": "禁止", "refer": "请联系工作人员"}


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[DemoRig]:
    demo = DemoRig(tmp_path)
    demo.build()
    yield demo
    demo.close()


@pytest.fixture
def kiosk(rig: DemoRig) -> Iterator[Kiosk]:
    stop = threading.Event()
    running = rig.kiosk(stop)
    runner = threading.Thread(target=running.run, name="kiosk")
    runner.start()
    assert wait_until(lambda: running.board.health().fresh, 30), running.board.health()
    yield running
    stop.set()
    runner.join(30)
    assert not runner.is_alive()


def test_every_demo_visitor_on_screen_in_the_ledger_and_at_the_broker(
    rig: DemoRig, kiosk: Kiosk, page: Page, shots: Path
) -> None:
    assert rig.config is not None and rig.broker is not None
    url = f"http://127.0.0.1:{rig.config.web.port}"
    collector = Collector(rig.broker.port, "county/demo/kiosk/+/+", "e2e-ingest").start()
    try:
        page.goto(url + "/")
        page.wait_for_selector("#screen")
        shot_taken: set[str] = set()
        results: list[Seen] = []
        heard, clips_heard = 0, set()
        for visitor in VISITORS:
            seen = play_visitor(rig, kiosk, visitor)
            results.append(seen)
            assert seen.screen is not None, visitor.label
            assert seen.ok, (visitor.label, seen.screen.outcome, seen.screen.reasons)
            outcome = seen.screen.outcome.value  # type: ignore[union-attr]
            # the browser got the decided screen through the event stream
            page.wait_for_function(
                "v => +document.querySelector('#screen').dataset.version >= v",
                arg=seen.screen.version, timeout=5000,
            )  # fmt: skip
            headline = page.inner_text("#screen .result .headline")
            assert headline.startswith(HEADLINES[outcome]), (visitor.label, headline)
            colour = page.eval_on_selector("#screen", "el => getComputedStyle(el).backgroundColor")
            assert colour == COLOURS[outcome], visitor.label
            text = page.inner_text("#screen")
            assert "CP1:" not in text and "shop.example" not in text  # no raw code on screen
            if visitor.kind == "starred":  # 一码一卡: the health code passes, the card does not
                assert "健康码" in text and "行程卡" in text and "带星号" in text, text
                assert page.get_attribute('.check[data-check="itinerary"]', "data-state") == "warn"
                assert headline.startswith("请联系工作人员") and "SEE STAFF" in headline
            elif outcome == "pass":
                assert page.get_attribute('.check[data-check="itinerary"]', "data-state") == "ok"
            if outcome not in shot_taken:
                page.screenshot(path=str(shots / f"demo-{outcome}.png"))
                shot_taken.add(outcome)
            # the screen speaks the outcome's clips in order (the page reports each one as it
            # starts); wait for the whole prompt, as the next visitor's prompt replaces it (a
            # PASS says 通行 then 请佩戴口罩, 3.9 s + 2.7 s, longer than the demo's 3 s dwell)
            clips = list(OUTCOME_VOICE[seen.screen.outcome])  # type: ignore[index]
            page.wait_for_function(
                "([clips, n]) => { const p = (document.querySelector('#voice').dataset.played"
                " || '').split(' ').slice(n); let i = -1;"
                " return clips.every(c => (i = p.indexOf(c, i + 1)) >= 0); }",
                arg=[clips, heard], timeout=15000,
            )  # fmt: skip
            spoken = (page.get_attribute("#voice", "data-played") or "").split()
            heard = len(spoken)
            clips_heard.update(spoken)
        assert {"pass", "mask", "deny", "refer"} <= clips_heard, clips_heard
        assert not any(c.startswith("refused:") for c in clips_heard), clips_heard
        with Ledger(rig.config.ledger_path) as ledger:
            entries = {e.seq: e for e, _ in ledger.entries()}
        for seen in results:
            assert seen.screen is not None and seen.screen.entry_seq is not None
            assert entries[seen.screen.entry_seq].decision == seen.visitor.expect
        ids = {e.id for e in entries.values()}
        arrived: set[str] = set()

        def all_arrived() -> bool:
            arrived.update(m.doc["id"] for m in collector.drain() if m.topic.endswith("entries"))
            return ids <= arrived

        assert wait_until(all_arrived, 20), ids - arrived
    finally:
        collector.stop()

    # the staff page: refused without login, then the entries, then a CSV equal to the ledger
    page.goto(url + "/staff")
    assert "/staff/login" in page.url
    page.fill("#password", rig.staff_password)
    page.click("button[type=submit]")
    page.wait_for_selector("#latest")
    for seq, entry in entries.items():
        row = page.locator(f'#latest tr[data-seq="{seq}"]')
        assert row.get_attribute("class") == entry.decision.value
        assert HEADLINES[entry.decision.value] in row.inner_text()
        assert (entry.masked_name or "-") in row.inner_text()
    assert page.locator("#alerts tbody tr").count() >= 3  # yellow, red and fever
    page.screenshot(path=str(shots / "demo-staff.png"), full_page=True)
    with page.expect_download() as info:
        page.click("#export-csv")
    data = Path(info.value.path()).read_bytes().decode("utf-8")
    rows = csv_rows(data)
    assert rows == ledger_csv_rows(rig.config.ledger_path) and len(rows) >= len(VISITORS)


ID_NUMBER = "11010519491231002X"


def test_staff_registers_a_visitor_without_a_code_through_the_page(
    rig: DemoRig, kiosk: Kiosk, page: Page, shots: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """人工登记: the kiosk's own temperature, the staff member's pass, the gate opens; the entry
    is in the ledger, at the broker and in the export, and the ID number is in none of them
    nor in any log line."""
    caplog.set_level(logging.DEBUG)
    assert rig.config is not None and rig.broker is not None and rig.simulator is not None
    url = f"http://127.0.0.1:{rig.config.web.port}"
    collector = Collector(rig.broker.port, "county/demo/kiosk/+/+", "e2e-register").start()
    try:
        page.goto(url + "/staff")
        page.fill("#password", rig.staff_password)
        page.click("button[type=submit]")
        page.wait_for_selector("#register-form")
        page.fill("#reg-name", "欧阳小明")
        page.fill("#reg-identifier", ID_NUMBER)
        page.select_option("#reg-why", "manual.no_phone")
        page.check("#reg-temp-kiosk")
        page.check("#reg-pass")
        page.fill("#reg-staff", "李工作")
        # the visitor holds a wrist to the kiosk's thermometer; staff register at that moment
        rig.simulator.play("visitor:36.4")
        assert wait_until(lambda: kiosk.board.screen().temperature_state == "ok", 15)
        page.click("#reg-submit")
        page.wait_for_selector("#register-message.ok")
        message = page.inner_text("#register-message")
        assert "已登记" in message, message
        seq = int(re.findall(r"#(\d+)", message)[0])
        row = page.locator(f'#latest tr[data-seq="{seq}"]')
        assert row.get_attribute("class") == "pass" and "李工作" in row.inner_text()
        assert "欧**明" in row.inner_text() and "工作人员人工登记" in row.inner_text()
        page.screenshot(path=str(shots / "staff-register.png"), full_page=True)
        screen = kiosk.board.screen()
        assert (screen.outcome, screen.entry_seq) == (Outcome.PASS, seq)
        gate = kiosk.supervisor.worker("gate") if kiosk.supervisor else None
        assert isinstance(gate, Gate) and wait_until(lambda: gate.health().relay_pulses >= 1, 5)

        with Ledger(rig.config.ledger_path) as ledger:
            [entry] = [e for e, _ in ledger.entries() if e.seq == seq]
        assert (entry.decision, entry.reasons) == (
            Outcome.PASS, ("staff.manual", "manual.no_phone"),
        )  # fmt: skip
        assert (entry.code_kind, entry.staff_name, entry.masked_name) == (
            "manual",
            "李工作",
            "欧**明",
        )
        assert entry.temperature_source == "kiosk" and entry.temperature_c is not None
        assert entry.subject_hash and len(entry.subject_hash) == 64

        payloads: list[str] = []

        def arrived() -> bool:
            payloads.extend(
                json.dumps(m.doc, ensure_ascii=False)
                for m in collector.drain()
                if m.topic.endswith("entries")
            )
            return any(entry.id in p for p in payloads)

        assert wait_until(arrived, 20)
        [sent] = [json.loads(p) for p in payloads if entry.id in p]
        assert sent["staff_name"] == "李工作" and sent["reasons"] == [
            "staff.manual",
            "manual.no_phone",
        ]
        assert sent["temperature_source"] == "kiosk" and sent["subject_hash"] == entry.subject_hash
    finally:
        collector.stop()

    with page.expect_download() as info:
        page.click("#export-csv")
    export = Path(info.value.path()).read_bytes().decode("utf-8")
    [line] = [x for x in export.splitlines() if entry.id in x]
    assert "李工作" in line and "staff.manual" in line and "kiosk" in line
    # grep: the typed ID number (and the full name) are nowhere
    ledger_bytes = b"".join(p.read_bytes() for p in rig.config.ledger_path.parent.iterdir())
    for secret in (ID_NUMBER, "欧阳小明"):
        assert secret.encode() not in ledger_bytes, secret
        assert secret not in caplog.text, secret
        assert not any(secret in p for p in payloads), secret
        assert secret not in export, secret
        assert secret not in page.content(), secret
