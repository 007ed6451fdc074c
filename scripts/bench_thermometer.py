#!/usr/bin/env python3
"""Thermometer benchmarks: parser and filter cost, and reader latency over a real pty.

Every figure is a ratio against a baseline measured in the same run on the same data, so the
numbers survive a busy or slower machine. Writes the ``## Thermometer`` section of
docs/benchmarks.md (``--no-write`` only prints it).
"""

from __future__ import annotations

import argparse
import os
import queue
import random
import re
import select
import statistics
import struct
import sys
import threading
import time
import tty
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kiosk.config import parse  # noqa: E402
from kiosk.model import Reading  # noqa: E402
from kiosk.sensors import gy_mcu90614, lu90614, modbus  # noqa: E402
from kiosk.sensors.ascii_lines import AsciiLineParser, encode_line  # noqa: E402
from kiosk.sensors.filter import ReadingFilter  # noqa: E402
from kiosk.sensors.reader import ThermometerReader  # noqa: E402

FRAMES = 20_000
CHUNK = 64


def best_of(runs: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def chunks(data: bytes) -> list[bytes]:
    return [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]


def parser_rows(rng: random.Random) -> list[tuple[str, float, float, float]]:
    values = [
        (round(rng.uniform(24, 38), 2), round(rng.uniform(24.8, 25.0), 2)) for _ in range(FRAMES)
    ]
    rows = []

    gy = b"".join(gy_mcu90614.encode_frame(o, a) for o, a in values)

    def gy_baseline() -> None:  # aligned frames: no search, no checksum, no state
        for i in range(0, len(gy), 9):
            struct.unpack_from(">hh", gy, i + 4)

    gy_pieces = chunks(gy)
    rows.append(("gy-mcu90614 parser", best_of(3, gy_baseline),
                 best_of(3, lambda: [gy_mcu90614.GyMcu90614Parser().feed(p, 0.0)
                                     for p in gy_pieces]), len(gy)))  # fmt: skip

    lu = b"".join(lu90614.encode_reply(o) for o, _ in values)

    def lu_baseline() -> None:
        for i in range(0, len(lu), 9):
            lu[i + 2] + lu[i + 3] / 100

    lu_pieces = chunks(lu)
    rows.append(("lu90614 parser", best_of(3, lu_baseline),
                 best_of(3, lambda: [lu90614.Lu90614Parser().feed(p, 0.0) for p in lu_pieces]),
                 len(lu)))  # fmt: skip

    text = b"".join(encode_line(o, a) for o, a in values)
    canonical = re.compile(rb"TO=(-?[\d.]+),TA=(-?[\d.]+)")

    def ascii_baseline() -> None:  # one fixed format, whole lines
        for line in text.split(b"\n"):
            match = canonical.match(line)
            if match:
                float(match.group(1)), float(match.group(2))

    text_pieces = chunks(text)
    rows.append(("ascii parser", best_of(3, ascii_baseline),
                 best_of(3, lambda: [AsciiLineParser().feed(p, 0.0) for p in text_pieces]),
                 len(text)))  # fmt: skip

    replies = [modbus.encode_read_reply(1, 3, [round(o * 10), 0, round(a * 10)]) for o, a in values]

    def modbus_baseline() -> None:
        for reply in replies:
            struct.unpack_from(">3H", reply, 3)

    def modbus_parse() -> None:
        for reply in replies:
            modbus.parse_read_reply(reply, 1, 3, 3)

    rows.append(("modbus reply (CRC)", best_of(3, modbus_baseline), best_of(3, modbus_parse),
                 sum(map(len, replies))))  # fmt: skip

    # visitors every 20 s: idle, then a steady forehead with a little jitter
    readings = [
        Reading(round(36.5 + rng.uniform(-0.1, 0.1), 2) if i % 200 > 50 else 24.3, a, i * 0.1)
        for i, (_, a) in enumerate(values)
    ]
    section = parse({"thermometer": {}}).thermometer

    def filter_baseline() -> None:
        kept: list[float] = []
        for r in readings:
            kept.append(r.object_c - (r.ambient_c or 0.0))

    def filter_run() -> None:
        filt = ReadingFilter(section)
        for r in readings:
            filt.feed(r)

    rows.append(("reading filter", best_of(3, filter_baseline), best_of(3, filter_run), 0))
    return rows


def latency(samples: int = 200) -> tuple[float, float]:
    """Median write-to-reading latency: the kiosk reader vs a bare select/read on the pty."""
    master, slave = os.openpty()
    tty.setraw(slave)
    frame = gy_mcu90614.encode_frame(36.5, 24.9)
    bare: list[float] = []
    for _ in range(samples):
        start = time.monotonic()
        os.write(master, frame)
        got = b""
        while len(got) < len(frame):
            select.select([slave], [], [], 1.0)
            got += os.read(slave, 64)
        bare.append(time.monotonic() - start)
    path = os.ttyname(slave)
    section = parse({"thermometer": {"port": path}}).thermometer
    out: queue.Queue[Reading] = queue.Queue()
    stop = threading.Event()
    reader = ThermometerReader(section, out, stop).start()
    while reader.health().state.value != "connecting":
        time.sleep(0.01)
    time.sleep(0.3)
    while not out.empty():
        out.get_nowait()
    kiosk: list[float] = []
    for _ in range(samples):
        start = time.monotonic()
        os.write(master, frame)
        reading = out.get(timeout=2.0)
        kiosk.append(reading.t - start)
        time.sleep(0.005)
    stop.set()
    reader.join()
    os.close(master)
    os.close(slave)
    return statistics.median(bare), statistics.median(kiosk)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-write", action="store_true", help="print, do not update the doc")
    args = parser.parse_args()
    rng = random.Random(4)
    rows = parser_rows(rng)
    bare, kiosk = latency()
    lines = [
        "## Thermometer",
        "",
        f"`scripts/bench_thermometer.py`: {FRAMES} frames fed in {CHUNK}-byte chunks, best of 3.",
        "Baselines, measured in the same run on the same data: the bytes decoded without search,",
        "checksum or state (binary protocols), one fixed-format regex over whole lines (ASCII),",
        "appending to a list (filter), and a bare `select` + `read` on the same pty (latency).",
        "",
        "| what | baseline | kiosk | ratio (kiosk / baseline) | kiosk throughput |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, base, ours, size in rows:
        rate = f"{FRAMES / ours:,.0f} frames/s" + (
            f", {size / ours / 1e6:.1f} MB/s" if size else ""
        )
        lines.append(
            f"| {name} | {base * 1e3:.1f} ms | {ours * 1e3:.1f} ms | {ours / base:.1f}x | {rate} |"
        )
    lines.append(
        f"| pty write → `Reading` on the queue (median of 200) | {bare * 1e3:.3f} ms | "
        f"{kiosk * 1e3:.3f} ms | {kiosk / bare:.1f}x | |"
    )
    lines += [
        "",
        "A module sends 10-14 frames/s, so even the slowest parser uses well under 0.1 % of one"
        " core for it; the reader adds well under a millisecond to a frame's trip through the tty.",
        "",
    ]
    section = "\n".join(lines)
    print(section)
    if not args.no_write:
        doc = ROOT / "docs" / "benchmarks.md"
        text = doc.read_text() if doc.exists() else "# Benchmarks\n\n"
        pattern = re.compile(r"## Thermometer\n.*?(?=\n## |\Z)", re.S)
        text = pattern.sub(section.rstrip("\n"), text) if pattern.search(text) else (
            text.rstrip("\n") + "\n\n" + section
        )  # fmt: skip
        doc.write_text(text.rstrip("\n") + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
