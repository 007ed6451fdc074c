#!/usr/bin/env python3
"""Benchmark kiosk/web through a real waitress server on 127.0.0.1: how fast a new screen
reaches an SSE client and Chromium's DOM, and what the staff page and exports cost, each
against a baseline measured in the same run. Writes ``## Web`` in docs/benchmarks.md."""

from __future__ import annotations

import argparse
import http.client
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kiosk.export import csv_lines  # noqa: E402
from kiosk.ledger import Ledger  # noqa: E402
from kiosk.service.status import Phase, StatusBoard  # noqa: E402
from kiosk.web import WebServer, create_app  # noqa: E402
from kiosk.web.xlsx import write_xlsx  # noqa: E402
from scripts.benchlib import write_section  # noqa: E402
from tests.web_support import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_FLAGS,
    SseClient,
    board_with_health,
    http_login,
    seed,
    web_config,
)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def ms(value: float) -> str:
    return f"{value * 1000:.2f} ms"


def wake_baseline(board: StatusBoard, n: int) -> list[float]:
    """show() → a thread blocked in wait_screen() wakes: the board itself, no HTTP."""
    samples: list[float] = []
    for _ in range(n):
        last = board.screen().version
        woke: list[float] = []
        ready = threading.Event()

        def waiter(after: int = last, out: list[float] = woke, go: threading.Event = ready) -> None:
            go.set()
            board.wait_screen(after, 5.0)
            out.append(time.perf_counter())

        thread = threading.Thread(target=waiter)
        thread.start()
        ready.wait()
        time.sleep(0.002)  # let it block
        started = time.perf_counter()
        board.show(temperature_c=36.5)
        thread.join()
        samples.append(woke[0] - started)
    return samples


def sse_latency(board: StatusBoard, port: int, n: int) -> list[float]:
    """show() → the event parsed by an HTTP client reading /events."""
    client = SseClient(port)
    samples: list[float] = []
    try:
        client.next_event()
        for i in range(n):
            started = time.perf_counter()
            board.show(phase=Phase.MEASURING, temperature_c=36.0 + (i % 10) / 10)
            event = client.next_event()
            samples.append(time.perf_counter() - started)
            if event is None or event["version"] != board.screen().version:
                raise RuntimeError(f"stream delivered {event!r}")
            time.sleep(0.002)
    finally:
        client.close()
    return samples


def browser_latency(board: StatusBoard, url: str, n: int) -> list[float] | None:
    """show() → Chromium has applied the screen to the DOM (the page's kiosk:screen event)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    samples: list[float] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(url + "/")
        page.evaluate(
            "() => { window.applied = {};"
            " document.addEventListener('kiosk:screen', e => {"
            "  window.applied[e.detail.version] = performance.timeOrigin + performance.now(); }); }"
        )
        for i in range(n):
            started = time.time() * 1000
            shown = board.show(phase=Phase.DECIDED if i % 2 else Phase.IDLE, temperature_c=36.4)
            page.wait_for_function(f"() => window.applied[{shown.version}] !== undefined")
            applied = page.evaluate(f"() => window.applied[{shown.version}]")
            samples.append((applied - started) / 1000)
        browser.close()
    return samples


def timed_get(port: int, path: str, cookie: str, n: int) -> tuple[list[float], int]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    samples, size = [], 0
    for _ in range(n):
        started = time.perf_counter()
        conn.request("GET", path, headers={"Cookie": cookie})
        response = conn.getresponse()
        body = response.read()
        samples.append(time.perf_counter() - started)
        if response.status != 200:
            raise RuntimeError(f"{path}: HTTP {response.status}")
        size = len(body)
    conn.close()
    return samples, size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=300, help="screens pushed per measurement")
    parser.add_argument("--browser-events", type=int, default=100)
    parser.add_argument("--entries", type=int, default=2000, help="ledger entries for today")
    parser.add_argument("--no-write", action="store_true", help="print, do not touch the docs")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-web-") as tmp:
        config = web_config(Path(tmp) / "state")
        seed(config.ledger_path, args.entries)
        board = board_with_health()
        app = create_app(board, config.ledger_path, config)
        with WebServer(app, "127.0.0.1", 0, threads=config.web.threads) as server:
            wake = wake_baseline(board, args.events)
            sse = sse_latency(board, server.port, args.events)
            dom = browser_latency(board, server.url, args.browser_events)
            cookie = http_login(server.port)
            healthz, _ = timed_get(server.port, "/healthz", cookie, 50)
            staff, staff_size = timed_get(server.port, "/staff", cookie, 20)
            csv_http, csv_size = timed_get(server.port, "/staff/export?format=csv", cookie, 10)
            xlsx_http, xlsx_size = timed_get(server.port, "/staff/export?format=xlsx", cookie, 5)
        direct_csv, direct_xlsx = [], []
        with Ledger(config.ledger_path) as ledger:
            for _ in range(10):
                started = time.perf_counter()
                "".join(csv_lines(ledger.entries()))
                direct_csv.append(time.perf_counter() - started)
            for _ in range(5):
                started = time.perf_counter()
                with tempfile.TemporaryFile() as out:
                    write_xlsx(out, "s", ["x"], ([e.seq, e.id] for e, _ in ledger.entries()))
                direct_xlsx.append(time.perf_counter() - started)

    base = statistics.median(wake)
    rows = [
        ("board wake-up (baseline: show → wait_screen returns)", wake, "1.0 x"),
        ("SSE: show → event parsed by an HTTP client", sse, None),
    ]
    if dom is not None:
        rows.append(("Chromium: show → screen applied to the DOM", dom, None))
    lines = [
        f"`scripts/bench_web.py`: a real waitress server on 127.0.0.1; {args.events} screens "
        f"per line ({args.browser_events} in Chromium), a ledger of {args.entries} entries.",
        "",
        "| what | p50 | p95 | max | p50 ratio |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, samples, ratio in rows:
        p50 = statistics.median(samples)
        shown = ratio or f"{p50 / base:.1f} x baseline"
        lines.append(
            f"| {name} | {ms(p50)} | {ms(pct(samples, 0.95))} | {ms(max(samples))} | {shown} |"
        )
    h50 = statistics.median(healthz)
    lines += [
        "",
        "| request | median | size | ratio |",
        "| --- | --- | --- | --- |",
        f"| `/healthz` (baseline) | {ms(h50)} | - | 1.0 x |",
        f"| `/staff` with {args.entries} entries today | {ms(statistics.median(staff))} | "
        f"{staff_size // 1024} KiB | {statistics.median(staff) / h50:.1f} x `/healthz` |",
        f"| CSV export over HTTP | {ms(statistics.median(csv_http))} | {csv_size // 1024} KiB | "
        f"{statistics.median(csv_http) / statistics.median(direct_csv):.2f} x `csv_lines` "
        f"in-process ({ms(statistics.median(direct_csv))}) |",
        f"| XLSX export over HTTP | {ms(statistics.median(xlsx_http))} | "
        f"{xlsx_size // 1024} KiB | "
        f"{statistics.median(xlsx_http) / statistics.median(direct_csv):.2f} x `csv_lines` "
        f"in-process (a 2-column XLSX alone: {ms(statistics.median(direct_xlsx))}) |",
    ]
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        write_section("Web", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
