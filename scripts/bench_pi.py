#!/usr/bin/env python3
"""On-the-Pi benchmarks: journal logging, sd_notify, gate signalling and kiosk doctor.

Each figure is a ratio against a baseline measured in the same run on the same machine:
a raw datagram send for the journal and sd_notify, ``queue.put_nowait`` and an Event wake-up
for the gate, and the ``kiosk --version`` process for the doctor. Writes the ``## On the Pi``
section of docs/benchmarks.md (``--no-write`` only prints it).
"""

from __future__ import annotations

import argparse
import logging
import os
import queue
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gpiozero.pins.mock import MockFactory  # noqa: E402

from kiosk.config import parse  # noqa: E402
from kiosk.gate.gpio import gpio_opener  # noqa: E402
from kiosk.gate.signals import Gate  # noqa: E402
from kiosk.model import Outcome  # noqa: E402
from kiosk.sensors.simulator import ThermometerSimulator  # noqa: E402
from kiosk.service.journal import JournalHandler, encode  # noqa: E402
from kiosk.service.sdnotify import Notifier  # noqa: E402
from kiosk.uplink.localbroker import LocalBroker  # noqa: E402
from scripts.benchlib import write_section  # noqa: E402

N = 20_000


def per_call(fn: Callable[[], object], n: int = N, runs: int = 3) -> float:
    """Best-of-``runs`` seconds per call."""
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - start) / n)
    return best


class Drain:
    """A datagram socket standing in for journald/systemd, read by a thread so it never fills."""

    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.2)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                self.sock.recv(65536)
            except TimeoutError:
                continue

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.sock.close()


def journal_rows(tmp: Path) -> list[str]:
    path = str(tmp / "journal.socket")
    drain = Drain(path)
    logger = logging.getLogger("bench.journal")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    handler = JournalHandler("kiosk", path)
    logger.addHandler(handler)
    extra = {"journal": {"ENTRY_ID": "0190a1b2-3c4d", "DECISION": "pass", "REASONS": ("ok",)}}
    payload = encode([("MESSAGE", "entry 0190a1b2-3c4d committed: pass"), ("PRIORITY", "6")])
    raw = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    raw.connect(path)
    try:
        base = per_call(lambda: raw.send(payload))
        record = per_call(lambda: logger.info("entry %s committed: %s", "0190a1b2", "pass",
                                              extra=extra))  # fmt: skip
        with open(os.devnull, "w") as devnull:
            stream = logging.StreamHandler(devnull)
            logger.removeHandler(handler)
            logger.addHandler(stream)
            plain = per_call(lambda: logger.info("entry %s committed: %s", "0190a1b2", "pass"))
            logger.removeHandler(stream)
    finally:
        raw.close()
        handler.close()
        drain.close()
    return [
        f"| journal record with 3 fields (`logger.info(..., extra=...)`) | {record * 1e6:.1f} µs "
        f"| {record / base:.1f} x a raw send of a pre-encoded datagram ({base * 1e6:.1f} µs) |",
        f"| the same record to a plain StreamHandler (/dev/null) | {plain * 1e6:.1f} µs "
        f"| {plain / base:.1f} x the raw send |",
    ]


def notify_rows(tmp: Path) -> list[str]:
    path = str(tmp / "notify.socket")
    drain = Drain(path)
    env = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "30000000"}
    notifier = Notifier(env)
    raw = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        base = per_call(lambda: raw.sendto(b"WATCHDOG=1", path))
        ping = per_call(notifier.watchdog)
    finally:
        raw.close()
        notifier.close()
        drain.close()
    return [
        f"| `Notifier.watchdog()` | {ping * 1e6:.1f} µs | {ping / base:.2f} x a raw sendto "
        f"({base * 1e6:.1f} µs); at WatchdogSec=30s it runs every 15 s |"
    ]


def gate_rows() -> list[str]:
    section = parse({"gate": {"relay_pin": 17, "buzzer_pin": 27, "led_pass_pin": 5,
                              "relay_pulse_s": 0.1, "led_s": 0.5}}).gate  # fmt: skip
    factory = MockFactory()
    stop = threading.Event()
    gate = Gate(section, stop, gpio_opener(factory)).start()
    relay = factory.pin(17)
    q: queue.Queue[Outcome] = queue.Queue()
    base_put = per_call(lambda: q.put_nowait(Outcome.DENY), n=5000)
    signal = per_call(lambda: gate.signal(Outcome.DENY), n=5000)
    latencies: list[float] = []
    wakes: list[float] = []
    for _ in range(30):
        gate.signal(Outcome.DENY)  # everything off, relay untouched
        time.sleep(0.05)
        start = time.perf_counter()
        gate.signal(Outcome.PASS)
        while not relay.state:
            time.sleep(0)
        latencies.append(time.perf_counter() - start)
        time.sleep(0.15)
        woke = threading.Event()
        ready = threading.Event()
        seen: list[float] = []

        def waiter(ready: threading.Event = ready, woke: threading.Event = woke,
                   seen: list[float] = seen) -> None:  # fmt: skip
            ready.set()
            woke.wait()
            seen.append(time.perf_counter())

        t = threading.Thread(target=waiter)
        t.start()
        ready.wait()
        time.sleep(0.01)
        start = time.perf_counter()
        woke.set()
        t.join()
        wakes.append(seen[0] - start)
    gate.join()
    factory.close()
    lat, wake = statistics.median(latencies), statistics.median(wakes)
    return [
        f"| `Gate.signal()` (returns at once) | {signal * 1e6:.2f} µs "
        f"| {signal / base_put:.2f} x `queue.put_nowait` ({base_put * 1e6:.2f} µs) |",
        f"| signal(PASS) → relay pin on (mock pins), median of 30 | {lat * 1e3:.2f} ms "
        f"| {lat / wake:.1f} x a bare thread wake-up by `Event.set` ({wake * 1e3:.3f} ms) |",
    ]


def doctor_rows(tmp: Path) -> list[str]:
    kiosk = [sys.executable, "-m", "kiosk"]

    def timed(args: list[str]) -> float:
        start = time.perf_counter()
        subprocess.run(args, capture_output=True, check=False, timeout=120)
        return time.perf_counter() - start

    base = min(timed([*kiosk, "--version"]) for _ in range(3))
    with (
        LocalBroker(tmp / "broker") as broker,
        ThermometerSimulator("gy-mcu90614", tmp / "ttyGY") as sim,
    ):
        state = tmp / "state"
        state.mkdir()
        config = tmp / "kiosk.toml"
        config.write_text(
            f'[kiosk]\nstate_dir = "{state}"\n[uplink]\nport = {broker.port}\n'
            f'[camera]\nsource = "synthetic"\n[thermometer]\nport = "{sim.path}"\n'
        )
        run = min(timed([*kiosk, "doctor", "--config", str(config)]) for _ in range(3))
        wrong = tmp / "wrong.toml"
        wrong.write_text(config.read_text().replace('port = "', 'protocol = "lu90614"\nport = "'))
        probe = timed([*kiosk, "doctor", "--config", str(wrong)])
    return [
        f"| `kiosk doctor`, demo devices, all reachable | {run:.2f} s "
        f"| {run / base:.1f} x starting `kiosk --version` ({base:.2f} s) |",
        f"| `kiosk doctor`, wrong protocol configured (listen 3 s + probe) | {probe:.2f} s "
        f"| {probe / base:.1f} x starting `kiosk --version` |",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-write", action="store_true", help="print, do not update the doc")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-pi-") as tmp:
        work = Path(tmp)
        table = [
            "| what | time | ratio |",
            "| --- | --- | --- |",
            *journal_rows(work),
            *notify_rows(work),
            *gate_rows(),
            *doctor_rows(work),
        ]
    body = (
        "`scripts/bench_pi.py`. Journal and sd_notify go to a local datagram socket read by a "
        "thread (journald/systemd stand-ins); the gate runs on gpiozero's mock pins; the doctor "
        "runs as a process against a throwaway mosquitto, the thermometer simulator on a pty "
        "and the synthetic camera (the wrong-protocol run finds the module by probing).\n\n"
        + "\n".join(table)
    )
    print(body)
    if not args.no_write:
        write_section("On the Pi", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
