"""The whole kiosk on the demo's simulated devices, watched in headless Chromium: every demo
visitor gets the right outcome on the screen, in the ledger and at the broker; the staff page
needs a login, lists the entries, and its CSV equals the ledger."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page

from kiosk.demo import VISITORS, DemoRig, Seen, play_visitor
from kiosk.ledger import Ledger
from kiosk.service.app import Kiosk
from kiosk.uplink.collector import Collector
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
            if outcome not in shot_taken:
                page.screenshot(path=str(shots / f"demo-{outcome}.png"))
                shot_taken.add(outcome)
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
