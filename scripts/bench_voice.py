#!/usr/bin/env python3
"""Benchmark the voice prompts and staff registration (人工登记), each against a baseline
measured in the same run: in Chromium, a decided screen → its clip playing vs → the screen in
the DOM; over HTTP on the demo kiosk, POST /staff/register → 303 (the entry committed by the
checkpoint thread) vs /healthz and vs a bare ledger commit. Writes ``## Voice and staff
registration`` in docs/benchmarks.md."""

from __future__ import annotations

import argparse
import http.client
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kiosk.demo import DemoRig  # noqa: E402
from kiosk.ledger import Ledger  # noqa: E402
from kiosk.model import Entry, Outcome  # noqa: E402
from kiosk.service.status import Phase, StatusBoard  # noqa: E402
from kiosk.web import WebServer, create_app  # noqa: E402
from kiosk.web.voice import CLIPS, clip_path  # noqa: E402
from scripts.bench_web import ms, pct, timed_get  # noqa: E402
from scripts.benchlib import write_section  # noqa: E402
from tests.integration.test_uplink import wait_until  # noqa: E402
from tests.web_support import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_FLAGS,
    PASSWORD,
    board_with_health,
    csrf_from,
    http_login,
    web_config,
)

OUTCOMES = (Outcome.PASS, Outcome.DENY, Outcome.REFER)


def voice_latency(board: StatusBoard, url: str, n: int) -> tuple[list[float], list[float]]:
    """show(decided) → screen in the DOM (baseline) and → its first clip playing."""
    from playwright.sync_api import sync_playwright

    dom, voice = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(url + "/")
        page.evaluate(
            "() => { window.applied = {}; window.heard = [];"
            " document.addEventListener('kiosk:screen', e => {"
            "  window.applied[e.detail.version] = performance.timeOrigin + performance.now(); });"
            " new MutationObserver(() => window.heard.push("
            "  performance.timeOrigin + performance.now())).observe("
            "  document.querySelector('#voice'), {attributes: true}); }"
        )
        for i in range(n):
            heard = page.evaluate("() => window.heard.length")
            started = time.time() * 1000
            now = time.monotonic()
            shown = board.show(
                phase=Phase.DECIDED, outcome=OUTCOMES[i % 3], code_seen=True, decided_t=now,
                dwell_s=30.0, entry_seq=i + 1, reasons=(), temperature_c=36.4,
            )  # fmt: skip
            page.wait_for_function(f"() => window.applied[{shown.version}] !== undefined")
            page.wait_for_function(f"() => window.heard.length > {heard}")
            applied = page.evaluate(f"() => window.applied[{shown.version}]")
            played = page.evaluate(f"() => window.heard[{heard}]")
            dom.append((applied - started) / 1000)
            voice.append((played - started) / 1000)
            time.sleep(0.2)
        browser.close()
    return dom, voice


def _session(port: int) -> tuple[str, str]:
    """A staff session cookie and its CSRF token."""
    cookie = http_login(port)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/staff", headers={"Cookie": cookie})
    page = conn.getresponse()
    fresh = (page.getheader("Set-Cookie") or "").split(";", 1)[0]
    token = csrf_from(page.read().decode())
    conn.close()
    return fresh or cookie, token


def registration_latency(port: int, n: int) -> list[float]:
    """POST /staff/register (clinical reading) → 303 once the checkpoint committed it."""
    cookie, token = _session(port)
    headers = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    samples = []
    for i in range(n):
        body = urlencode({
            "csrf_token": token, "name": "欧阳小明", "identifier": f"138{i:08d}",
            "why": "manual.no_phone", "temperature_source": "clinical", "clinical_c": "36.6",
            "decision": "pass" if i % 2 else "deny", "staff_name": "李工作",
        })  # fmt: skip
        started = time.perf_counter()
        conn.request("POST", "/staff/register", body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        samples.append(time.perf_counter() - started)
        location = response.getheader("Location") or ""
        if response.status != 303 or "registered=" not in location:
            raise RuntimeError(f"registration {i}: HTTP {response.status} {location}")
    conn.close()
    return samples


def bare_commits(path: Path, n: int) -> list[float]:
    """The same kind of entry committed straight to a ledger (fsync included): the floor."""
    samples = []
    with Ledger(path) as ledger:
        for _ in range(n):
            entry = Entry.new("k-bench", "bench", Outcome.PASS, ("staff.manual",),
                              code_kind="manual", masked_name="欧**明", temperature_c=36.6)  # fmt: skip
            started = time.perf_counter()
            ledger.commit(entry)
            samples.append(time.perf_counter() - started)
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--voices", type=int, default=30, help="decided screens in Chromium")
    parser.add_argument("--registrations", type=int, default=50)
    parser.add_argument("--no-write", action="store_true", help="print, do not touch the docs")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-voice-") as tmp:
        config = web_config(Path(tmp) / "screen")
        board = board_with_health()
        with WebServer(create_app(board, config.ledger_path, config), "127.0.0.1", 0) as server:
            dom, voice = voice_latency(board, server.url, args.voices)

        rig = DemoRig(Path(tmp) / "demo", staff_password=PASSWORD)
        rig.build(extra={"uplink": {"enabled": False}})
        stop = threading.Event()
        kiosk = rig.kiosk(stop)
        runner = threading.Thread(target=kiosk.run, name="kiosk")
        runner.start()
        try:
            if not wait_until(lambda: kiosk.board.health().fresh, 30):
                raise RuntimeError("the demo kiosk did not start")
            assert rig.config is not None
            port = rig.config.web.port
            healthz, _ = timed_get(port, "/healthz", "", 50)
            register = registration_latency(port, args.registrations)
        finally:
            stop.set()
            runner.join(30)
            rig.close()
        bare = bare_commits(Path(tmp) / "bare.sqlite", args.registrations)

    d50, h50, b50 = statistics.median(dom), statistics.median(healthz), statistics.median(bare)
    sizes = sum(clip_path(c.name).stat().st_size for c in CLIPS)
    lines = [
        f"`scripts/bench_voice.py`: {args.voices} decided screens in Chromium (a real waitress "
        f"server, the {len(CLIPS)} committed clips, {sizes // 1024} KiB together); "
        f"{args.registrations} staff registrations over HTTP on the demo kiosk (uplink off).",
        "",
        "| what | p50 | p95 | max | p50 ratio |",
        "| --- | --- | --- | --- | --- |",
        f"| Chromium: show → screen in the DOM (baseline) | {ms(d50)} | {ms(pct(dom, 0.95))} | "
        f"{ms(max(dom))} | 1.0 x |",
        f"| Chromium: show → its clip playing (`play()` resolved) | "
        f"{ms(statistics.median(voice))} | {ms(pct(voice, 0.95))} | {ms(max(voice))} | "
        f"{statistics.median(voice) / d50:.1f} x the DOM |",
        f"| bare `Ledger.commit` of a manual entry (baseline) | {ms(b50)} | "
        f"{ms(pct(bare, 0.95))} | {ms(max(bare))} | 1.0 x |",
        f"| `/healthz` on the demo kiosk | {ms(h50)} | {ms(pct(healthz, 0.95))} | "
        f"{ms(max(healthz))} | {h50 / b50:.1f} x the commit |",
        f"| POST `/staff/register` → 303 (checked, hashed, committed, shown) | "
        f"{ms(statistics.median(register))} | {ms(pct(register, 0.95))} | "
        f"{ms(max(register))} | {statistics.median(register) / b50:.1f} x the commit |",
    ]
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        write_section("Voice and staff registration", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
