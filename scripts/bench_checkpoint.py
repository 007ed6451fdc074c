#!/usr/bin/env python3
"""Checkpoint benchmark: from the camera frame that carries the code to the decision arriving
over the kiosk screen's event stream, over demo visitors; and CPU seconds per camera frame.

Usage: .venv/bin/python scripts/bench_checkpoint.py [--visitors N] [--no-write]
Runs the whole kiosk in this process on the demo's simulated devices (synthetic camera at
10 fps, thermometer simulator on a pty, local mosquitto). Writes `## Checkpoint` in
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchlib import write_section

from kiosk.demo import VISITORS, DemoRig
from kiosk.scanner.synthetic import SyntheticSource
from kiosk.service.app import Kiosk
from kiosk.service.status import Phase
from tests.web_support import SseClient

CODE_ONLY = [v for v in VISITORS if v.kind in ("red", "yellow", "expired", "forged", "unknown")]
GREEN = next(v for v in VISITORS if v.expect.value == "pass")
RESHOWN: list[str] = []  # codes the camera missed and the visitor held up again


class Listener:
    """Reads the kiosk screen's event stream on its own thread, stamping each decided event."""

    def __init__(self, port: int) -> None:
        self.decided: list[tuple[float, dict[str, Any]]] = []
        self._client = SseClient(port, timeout=30)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            event = self._client.next_event()
            if event is None:
                return
            screen = event["screen"]
            if screen["phase"] == "decided" and screen["entry_seq"] is not None:
                self.decided.append((time.monotonic(), screen))

    def wait_for_seq_after(self, seq: int, timeout: float) -> tuple[float, dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for arrival, screen in self.decided:
                if screen["entry_seq"] > seq:
                    return arrival, screen
            time.sleep(0.002)
        raise TimeoutError(f"no decision arrived after entry {seq}: got {self.decided[-3:]}")

    def close(self) -> None:
        self._client.close()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def visit(
    rig: DemoRig, kiosk: Kiosk, listener: Listener, i: int, last_seq: int
) -> tuple[float, int]:
    """One visitor; returns (latency s from the code's frame to the event, its entry seq)."""
    assert rig.simulator is not None and rig.desk is not None
    board = kiosk.board
    while board.screen().phase != Phase.IDLE:
        time.sleep(0.01)
    visitor = GREEN if i % 2 == 0 else CODE_ONLY[(i // 2) % len(CODE_ONLY)]
    if visitor is GREEN:  # the visitor measures first; the latency starts at the code
        rig.simulator.play("visitor:36.3")
        deadline = time.monotonic() + 10
        while board.screen().temperature_state != "ok" and time.monotonic() < deadline:
            time.sleep(0.01)
    code = rig.desk.code_for(visitor.kind)
    for _attempt in range(5):  # a phone held at an unreadable angle is held up again
        rig.show(code, visitor.colour)
        try:
            arrival, screen = listener.wait_for_seq_after(last_seq, 3.0)
            break
        except TimeoutError:
            RESHOWN.append(visitor.kind)
    else:
        raise TimeoutError(f"{visitor.label}: no decision after 5 tries")
    rig.show(None)
    rig.simulator.play("idle")
    if screen["outcome"] != visitor.expect.value:
        raise RuntimeError(f"{visitor.label}: got {screen['outcome']}")
    return arrival - screen["frame_t"], screen["entry_seq"]


def sse_baseline(kiosk: Kiosk, port: int, n: int) -> list[float]:
    """board.show() → the event read by a client: the screen path alone, same run."""
    client = SseClient(port)
    samples = []
    try:
        client.next_event()
        for _ in range(n):
            started = time.monotonic()
            kiosk.board.show(notices=kiosk.board.screen().notices)
            client.next_event()
            samples.append(time.monotonic() - started)
    finally:
        client.close()
    return samples


def render_cpu_per_frame(n: int, text: str | None) -> float:
    """CPU seconds to render one synthetic 640×480 frame (not part of a real kiosk)."""
    source = SyntheticSource(threading.Event(), 640, 480, 0.0, 1)
    source.open()
    source.show(text, colour="green", code_px=220)
    started = time.process_time()
    for _ in range(n):
        source.read()
    return (time.process_time() - started) / n


def camera_frames(kiosk: Kiosk) -> int:
    worker = kiosk.board.health().worker("camera")
    return int(worker.detail.get("frames", 0)) if worker else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--visitors", type=int, default=120)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-checkpoint-") as tmp:
        rig = DemoRig(Path(tmp))
        rig.build(extra={"checkpoint": {"dwell_s": 1.0, "min_dwell_s": 0.5}})
        assert rig.config is not None
        stop = threading.Event()
        kiosk = rig.kiosk(stop)
        runner = threading.Thread(target=kiosk.run, name="kiosk")
        runner.start()
        try:
            while not kiosk.board.health().fresh:
                time.sleep(0.1)
            port = rig.config.web.port
            baseline = sse_baseline(kiosk, port, 200)
            time.sleep(3)  # an empty doorway: CPU per frame with nothing to decode
            cpu0, frames0 = time.process_time(), camera_frames(kiosk)
            time.sleep(10)
            idle_cpu = (time.process_time() - cpu0) / max(1, camera_frames(kiosk) - frames0)
            listener = Listener(port)
            latencies: list[float] = []
            last = 0
            cpu0, frames0 = time.process_time(), camera_frames(kiosk)
            started = time.monotonic()
            for i in range(args.visitors):
                latency, last = visit(rig, kiosk, listener, i, last)
                latencies.append(latency)
            busy_cpu = (time.process_time() - cpu0) / max(1, camera_frames(kiosk) - frames0)
            elapsed = time.monotonic() - started
            listener.close()
        finally:
            stop.set()
            runner.join(30)
            rig.close()
    render_empty = render_cpu_per_frame(200, None)
    render_phone = render_cpu_per_frame(100, "https://shop.example/menu?table=1")
    p50, p95 = pct(latencies, 0.5), pct(latencies, 0.95)
    share = (idle_cpu - render_empty) * 10 * 100

    def ms(seconds: float) -> str:
        return f"{seconds * 1000:.1f} ms"

    base50 = pct(baseline, 0.5)
    body = f"""
`scripts/bench_checkpoint.py --visitors {args.visitors}`: the whole kiosk in one process on the
demo's simulated devices (synthetic camera 640×480 at 10 fps, GY-MCU90614 simulator on a pty,
local mosquitto, web screen on waitress). Half the visitors measure their temperature first and
then show a green pass (PASS); the others show a code that is refused on sight (red, yellow,
expired, forged, unknown: no temperature needed). Latency runs from the `time.monotonic()` of
the camera frame that carried the code (`Screen.frame_t`) to the decided screen arriving at an
HTTP client reading `/events`, so it includes decoding, verification, policy, the ledger commit
(`synchronous=FULL`) and the event stream — not the visitor's own time at the thermometer.

| what | p50 | p95 | max |
| --- | --- | --- | --- |
| code frame → decision on the event stream ({len(latencies)} visitors) | {p50 * 1000:.0f} ms | **{p95 * 1000:.0f} ms** | {max(latencies) * 1000:.0f} ms |
| baseline: `board.show()` → same event stream (same run) | {base50 * 1000:.2f} ms | {pct(baseline, 0.95) * 1000:.2f} ms | {max(baseline) * 1000:.2f} ms |

p95 is **{p95 / 0.300:.2f}×** the 300 ms budget and {p95 / 0.1:.1f}× the camera's frame interval
(100 ms at 10 fps: a code shown just after a frame waits for the next one). {len(latencies)}
visitors took {elapsed:.0f} s; {len(RESHOWN)} codes were not read at the first angle and held up
again ({", ".join(RESHOWN) or "none"}); the latency counts from the frame that was read.

| CPU per camera frame (whole process, all threads) | |
| --- | --- |
| empty doorway | {ms(idle_cpu)} |
| during the visitors | {ms(busy_cpu)} |
| rendering alone: empty doorway / phone with a code (simulated camera only) | {ms(render_empty)} / {ms(render_phone)} |
| **kiosk service, empty doorway (total minus rendering)** | **{ms(idle_cpu - render_empty)}** ({share:.1f} % of a core at 10 fps) |
"""
    print(body)
    if not args.no_write:
        write_section("Checkpoint", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
