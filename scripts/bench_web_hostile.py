#!/usr/bin/env python3
"""Benchmark kiosk/web under hostile clients through a real waitress server on 127.0.0.1:
how long the kiosk itself waits for /healthz and for its screen stream while other hosts
(127.0.0.2 and up) trickle headers, hog screen streams or send huge bodies, each against the
idle server measured in the same run. Writes ``## Web under hostile clients`` in
docs/benchmarks.md."""

from __future__ import annotations

import argparse
import http.client
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kiosk.web import WebServer, create_app  # noqa: E402
from scripts.benchlib import write_section  # noqa: E402
from tests.web_support import (  # noqa: E402
    SseClient,
    Trickler,
    board_with_health,
    declared_huge_body,
    endless_chunked_body,
    web_config,
)
from tests.web_support import health as fresh_health  # noqa: E402


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def healthz(port: int) -> float | None:
    """Seconds for one /healthz from 127.0.0.1 on a new connection; None if it failed."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        conn.request("GET", "/healthz")
        answer = conn.getresponse()
        answer.read()
        ok = answer.status == 200
    except OSError:
        ok = False
    finally:
        conn.close()
    return time.perf_counter() - started if ok else None


def screen_stream(port: int) -> float | None:
    """Seconds until the kiosk's own screen (127.0.0.1) gets its first event; None if refused.
    Opened 0.6 s apart, as a display reconnects, so the stream it replaces has ended."""
    time.sleep(0.6)
    started = time.perf_counter()
    client = SseClient(port, timeout=15)
    try:
        if client.response.status != 200 or client.next_event() is None:
            return None
        return time.perf_counter() - started
    finally:
        client.close()


def sample(probe: Callable[[int], float | None], port: int, n: int) -> tuple[list[float], int]:
    times: list[float] = []
    failed = 0
    for _ in range(n):
        got = probe(port)
        if got is None:
            failed += 1
        else:
            times.append(got)
    return times, failed


@contextmanager
def idle(_port: int) -> Iterator[str]:
    yield "idle server"


@contextmanager
def trickle(port: int) -> Iterator[str]:
    sources = [f"127.0.0.{20 + n}" for n in range(6)]
    with Trickler(port, sources, 25):
        time.sleep(1.0)  # every connection opened and trickling
        yield "150 connections trickling header bytes from 6 hosts, reconnecting when cut"


@contextmanager
def hogs(port: int) -> Iterator[str]:
    streams = [SseClient(port, source=f"127.0.0.{40 + n // 3}") for n in range(15)]
    try:
        yield "15 screen streams asked by 5 other hosts"
    finally:
        for stream in streams:
            stream.close()


@contextmanager
def bodies(port: int) -> Iterator[str]:
    stop = threading.Event()

    def flood() -> None:
        while not stop.is_set():
            declared_huge_body(port)
            endless_chunked_body(port)

    thread = threading.Thread(target=flood, daemon=True)
    thread.start()
    try:
        yield "one host sending 500 MB declared and endless chunked bodies back to back"
    finally:
        stop.set()
        thread.join(10)


def run(n: int) -> str:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        config = web_config(Path(tmp), cookie_secure=False)
        board = board_with_health()
        app = create_app(board, config.ledger_path, config)
        stop = threading.Event()

        def supervise() -> None:  # a fresh snapshot every second, as the supervisor sends
            while not stop.wait(1.0):
                board.set_health(fresh_health())

        threading.Thread(target=supervise, daemon=True).start()
        with WebServer(app, "127.0.0.1", 0, threads=config.web.threads) as server:
            base: dict[str, float] = {}
            for attack in (idle, trickle, hogs, bodies):
                with attack(server.port) as label:
                    health, health_failed = sample(healthz, server.port, n)
                    screen, screen_failed = sample(screen_stream, server.port, max(5, n // 10))
                med_h = statistics.median(health) if health else float("nan")
                med_s = statistics.median(screen) if screen else float("nan")
                base.setdefault("h", med_h)
                base.setdefault("s", med_s)
                rows.append(
                    f"| {label} | {med_h * 1000:.2f} ms ({med_h / base['h']:.1f}×) | "
                    f"{pct(health, 0.95) * 1000 if health else float('nan'):.2f} ms | "
                    f"{health_failed} of {n} | "
                    f"{med_s * 1000:.2f} ms ({med_s / base['s']:.1f}×) | "
                    f"{screen_failed} of {max(5, n // 10)} |"
                )
            declared = [_timed(lambda: declared_huge_body(server.port)) for _ in range(20)]
            chunked = [endless_chunked_body(server.port) for _ in range(10)]
        stop.set()
    lines = [
        "The kiosk itself (127.0.0.1) asks for `/healthz` on a new connection and opens its "
        "screen stream while other hosts attack (`scripts/bench_web_hostile.py`, default "
        "`[web]` limits, waitress on 127.0.0.1). Ratios are to the idle server in the same run.",
        "",
        "| while | /healthz median (× idle) | /healthz p95 | /healthz failed | "
        "screen stream first event (× idle) | screen refused |",
        "| --- | --- | --- | --- | --- | --- |",
        *rows,
        "",
        f"A request declaring a 500 MB body is answered `413` in "
        f"{statistics.median(declared) * 1000:.2f} ms (median of 20) without a body byte sent; "
        f"an endless chunked body is answered `413` after "
        f"{max(sent for _, sent in chunked) // 1024} KiB at most (10 tries): nothing is "
        "spooled to disk.",
    ]
    return "\n".join(lines)


def _timed(action: Callable[[], bytes]) -> float:
    started = time.perf_counter()
    answer = action()
    assert answer.startswith(b"HTTP/1.1 413"), answer[:60]
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=100, help="/healthz per condition")
    args = parser.parse_args()
    body = run(args.requests)
    print(body)
    write_section("Web under hostile clients", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
