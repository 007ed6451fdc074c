#!/usr/bin/env python3
"""The picamera2 main stream: RGB888 against YUV420 (luma first, chroma only when yellow is in
view), on the synthetic colour set and empty doorways, through the kiosk's own frame path.

For each rendered frame this builds what ``capture_array("main")`` returns in each format
(BGR bytes; I420 planes from OpenCV's BT.601 conversion, as libcamera's YUV420), copies it as
capture_array does, makes the ``Frame`` with ``kiosk.scanner.picamera.to_frame`` and runs the
scan worker's per-frame work (``decode_frame`` with the ``auto`` decoder, then
``frame_colour`` for each code). Reported: codes read per colour group, misreads, the colour
hint agreeing with the code's colour, and the median milliseconds per frame (best of
``--repeat``), code frames and empty ones apart, both formats measured on the same frames in
the same run. Writes ``## Pi camera frame`` in docs/benchmarks.md unless ``--no-write``.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402

from kiosk.scanner.auto import AutoDecoder  # noqa: E402
from kiosk.scanner.picamera import to_frame  # noqa: E402
from kiosk.scanner.render import coloured_set, random_scene, render  # noqa: E402
from kiosk.scanner.yuv import colour_safe, decode_frame, frame_colour, planes  # noqa: E402
from scripts.benchlib import write_section  # noqa: E402

SIZE = (640, 480)
FORMATS = ("RGB888", "YUV420")


@dataclasses.dataclass
class Tally:
    read: dict[str, list[int]] = dataclasses.field(default_factory=dict)  # group: [n, read]
    misreads: int = 0
    colour_ok: int = 0
    colour_n: int = 0
    false_pos: int = 0
    ms_code: list[float] = dataclasses.field(default_factory=list)
    ms_empty: list[float] = dataclasses.field(default_factory=list)


def camera_array(bgr: Any, fmt: str) -> Any:
    return bgr if fmt == "RGB888" else cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420)


def one_frame(decoder: AutoDecoder, array: Any, fmt: str) -> tuple[list[Any], list[str]]:
    frame = to_frame(array.copy(), fmt, SIZE, time.monotonic(), 1)  # copy: as capture_array
    symbols = decode_frame(decoder, frame)
    return symbols, [frame_colour(frame, s.bbox) for s in symbols]


def timed(
    decoder: AutoDecoder, array: Any, fmt: str, repeat: int
) -> tuple[list[Any], list[str], float]:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        symbols, colours = one_frame(decoder, array, fmt)
        best = min(best, time.perf_counter() - start)
    return symbols, colours, best * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--per-group", type=int, default=25)
    parser.add_argument("--empty", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seeds", type=int, nargs="+", default=[11, 7, 3])
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    decoder = AutoDecoder()
    rng = random.Random(args.seeds[0])
    codes = [frame for seed in args.seeds for frame in coloured_set(args.per_group, seed)]
    empties = []
    for i in range(args.empty):  # doorways: nobody, or a phone with no code, light and dark
        scene = random_scene(rng, None, rng.choice(["green", "yellow", "red"]), bool(i % 2))
        empties.append(render(dataclasses.replace(scene, phone=bool(i % 3))))
    tallies = {fmt: Tally() for fmt in FORMATS}
    for group, text, bgr in codes:
        colour = group.split("-")[0]
        for fmt in FORMATS:  # interleaved: the same machine state for both
            tally = tallies[fmt]
            symbols, colours, ms = timed(decoder, camera_array(bgr, fmt), fmt, args.repeat)
            counts = tally.read.setdefault(group, [0, 0])
            counts[0] += 1
            hit = [c for s, c in zip(symbols, colours, strict=True) if s.text == text]
            counts[1] += bool(hit)
            tally.misreads += any(s.text != text for s in symbols)
            tally.ms_code.append(ms)
            if hit and colour != "black":
                tally.colour_n += 1
                tally.colour_ok += hit[0] == colour
    gated = 0  # empty doorways whose yellow/orange sends them through the colour-safe pass
    for bgr in empties:
        y, u, _ = planes(camera_array(bgr, "YUV420"), *SIZE)
        gated += colour_safe(y, u) is not None
        for fmt in FORMATS:
            symbols, _, ms = timed(decoder, camera_array(bgr, fmt), fmt, args.repeat)
            tallies[fmt].false_pos += bool(symbols)
            tallies[fmt].ms_empty.append(ms)
    body = report(args, tallies, len(codes), len(empties), gated)
    print(body)
    if not args.no_write:
        write_section("Pi camera frame", body)
    return 0


def report(
    args: argparse.Namespace, tallies: dict[str, Tally], n_codes: int, n_empty: int, gated: int
) -> str:
    rgb, yuv = tallies["RGB888"], tallies["YUV420"]
    groups = list(rgb.read)
    rows = [
        f"| {g} | {rgb.read[g][1]}/{rgb.read[g][0]} | {yuv.read[g][1]}/{yuv.read[g][0]} |"
        for g in groups
    ]
    total = {f: sum(v[1] for v in t.read.values()) for f, t in tallies.items()}
    lost = [g for g in groups if yuv.read[g][1] < rgb.read[g][1]]
    med = {
        f: (statistics.median(t.ms_code), statistics.median(t.ms_empty)) for f, t in tallies.items()
    }
    return f"""
`scripts/bench_pi_frame.py --per-group {args.per_group} --seeds {" ".join(map(str, args.seeds))} --empty {args.empty}`:
the picamera2 main stream as RGB888 (BGR bytes) against YUV420 (luma decoded first, a luma +
Cb plane only when luma found nothing and strongly yellow pixels are in view, colour
converted only in a found code's box), through the kiosk's frame path (`to_frame`, `decode_frame`, `frame_colour`, `auto`
decoder) on {n_codes} synthetic colour-set frames and {n_empty} empty doorways at 640×480,
including the copy `capture_array` makes. Medians of the best of {args.repeat} runs per frame.

| group | RGB888 read | YUV420 read |
| --- | --- | --- |
{chr(10).join(rows)}
| **all** | **{total["RGB888"]}/{n_codes}** | **{total["YUV420"]}/{n_codes}** |

| | RGB888 | YUV420 | YUV420 / RGB888 |
| --- | --- | --- | --- |
| ms per frame with a code | {med["RGB888"][0]:.2f} | {med["YUV420"][0]:.2f} | {med["YUV420"][0] / med["RGB888"][0]:.2f}× |
| ms per empty frame (the doorway most of the day) | {med["RGB888"][1]:.2f} | {med["YUV420"][1]:.2f} | {med["YUV420"][1] / med["RGB888"][1]:.2f}× |
| misreads / false positives on empty frames | {rgb.misreads} / {rgb.false_pos} | {yuv.misreads} / {yuv.false_pos} | |
| colour hint right (green, yellow, red codes read) | {rgb.colour_ok}/{rgb.colour_n} | {yuv.colour_ok}/{yuv.colour_n} | |

Groups where YUV420 read fewer codes than RGB888: {", ".join(lost) or "none"}. Empty doorways
with something yellow or orange in view ({gated} of these {n_empty}) pay for the colour-safe pass
on every frame. The kiosk keeps the cheaper format that loses nothing: `camera.frame_format = "{"YUV420" if not lost and med["YUV420"][1] <= med["RGB888"][1] else "RGB888"}"` by this run.
"""


if __name__ == "__main__":
    sys.exit(main())
