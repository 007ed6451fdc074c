#!/usr/bin/env python3
"""Uplink benchmark: backlog drain rate vs raw paho QoS 1, commit latency, process memory.

Usage: .venv/bin/python scripts/bench_uplink.py [--messages N] [--rounds R] [--no-write]
Needs mosquitto. Writes the `## Uplink` section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import write_section

from kiosk.config import Config, parse
from kiosk.ledger import Ledger
from kiosk.model import Outcome
from kiosk.synthetic import synthetic_entry
from kiosk.uplink.localbroker import LocalBroker
from kiosk.uplink.publisher import Publisher


def _config(state: Path, port: int, window: int) -> Config:
    return parse(
        {
            "kiosk": {"id": "k-bench", "site": "bench", "state_dir": str(state)},
            "uplink": {"port": port, "window": window},
        }
    )


def _pass_entries(n: int, rng: random.Random) -> list:  # type: ignore[type-arg]
    entries = []
    while len(entries) < n:
        entry = synthetic_entry("k-bench", "bench", rng)
        if entry.decision is Outcome.PASS:  # no alert rows: one message per entry
            entries.append(entry)
    return entries


def raw_paho_rate(port: int, payloads: list[bytes], window: int) -> float:
    """Messages/s for plain paho QoS 1 publishing with the same window, from CONNACK until the
    last PUBACK."""
    connected, done = threading.Event(), threading.Event()
    acked = 0

    def on_publish(*_args: object) -> None:
        nonlocal acked
        acked += 1
        if acked == len(payloads):
            done.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="raw-bench", protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(window)
    client.max_queued_messages_set(0)
    client.on_publish = on_publish
    client.on_connect = lambda *_a: connected.set()
    client.connect("127.0.0.1", port)
    client.loop_start()
    connected.wait(10)
    started = time.perf_counter()
    for payload in payloads:
        client.publish("county/demo/kiosk/raw/entries", payload, qos=1)
    done.wait(300)
    elapsed = time.perf_counter() - started
    client.disconnect()
    client.loop_stop()
    return len(payloads) / elapsed


def rss_mb() -> float:
    """Resident memory of this process now (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def kiosk_drain_rate(work: Path, port: int, entries: list, window: int) -> tuple[float, float]:  # type: ignore[type-arg]
    """Messages/s for the kiosk draining a committed backlog, from CONNACK until the outbox
    has recorded the last acknowledgement (deleted its row); and the most the process's
    resident memory grew meanwhile (MB)."""
    config = _config(work, port, window)
    with Ledger(config.ledger_path) as ledger:
        for entry in entries:
            ledger.commit(entry)
    stop = threading.Event()
    publisher = Publisher(config, stop)
    base = peak = rss_mb()
    publisher.start()
    while not publisher.health().connected:
        time.sleep(0.0005)
    started = time.perf_counter()
    next_rss = started
    while publisher.health().acked < len(entries):
        time.sleep(0.005)  # light polling: this thread must not compete with the publisher
        now = time.perf_counter()
        if now >= next_rss:
            peak, next_rss = max(peak, rss_mb()), now + 0.1
    elapsed = time.perf_counter() - started
    stop.set()
    publisher.join()
    return len(entries) / elapsed, peak - base


def commit_latencies(work: Path, port: int, n: int, with_uplink: bool) -> list[float]:
    config = _config(work, port, 32)
    rng = random.Random(1)
    stop = threading.Event()
    publisher = Publisher(config, stop) if with_uplink else None
    samples = []
    with Ledger(config.ledger_path) as ledger:
        if publisher:
            publisher.start()
        for _ in range(n):
            entry = synthetic_entry("k-bench", "bench", rng)
            started = time.perf_counter()
            ledger.commit(entry)
            samples.append((time.perf_counter() - started) * 1000)
            if publisher:
                publisher.notify()
    stop.set()
    if publisher:
        publisher.join()
    return samples


_RSS_PROBE = """
import sys, threading, time, random
from pathlib import Path
sys.path.insert(0, sys.argv[3])
from bench_uplink import _config
from kiosk.ledger import Ledger
from kiosk.synthetic import synthetic_entry
from kiosk.uplink.publisher import Publisher
config = _config(Path(sys.argv[1]), int(sys.argv[2]), 32)
stop = threading.Event()
publisher = Publisher(config, stop)
publisher.start()
rng = random.Random(1)
with Ledger(config.ledger_path) as ledger:
    for _ in range(2000):
        ledger.commit(synthetic_entry("k-bench", "bench", rng))
        publisher.notify()
while ledger.open().outbox_status().pending:
    time.sleep(0.05)
print(Path("/proc/self/status").read_text().split("VmRSS:")[1].split()[0])
stop.set()
publisher.join()
"""


def kiosk_process_rss(work: Path, port: int) -> float:
    """Resident MB of a fresh process that committed and published 2000 entries."""
    out = subprocess.run(
        [sys.executable, "-c", _RSS_PROBE, str(work), str(port), str(Path(__file__).parent)],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(out.stdout.strip()) / 1024


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=50000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--window", type=int, default=32)
    parser.add_argument("--commits", type=int, default=3000)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    rng = random.Random(2026)
    with tempfile.TemporaryDirectory(prefix="bench-uplink-") as tmp:
        work = Path(tmp)
        with LocalBroker(work / "broker") as broker:
            raw, ours, growth = [], [], []
            for r in range(args.rounds):
                entries = _pass_entries(args.messages, rng)
                payloads = [e.with_seq(i + 1).entry_message() for i, e in enumerate(entries)]
                raw.append(raw_paho_rate(broker.port, payloads, args.window))
                rate, grew = kiosk_drain_rate(work / f"drain{r}", broker.port, entries, args.window)
                ours.append(rate)
                growth.append(grew)
                print(f"round {r + 1}: raw {raw[-1]:.0f}/s, kiosk {ours[-1]:.0f}/s", flush=True)
            idle_rss = kiosk_process_rss(work / "rss", broker.port)
            idle = commit_latencies(work / "commit-idle", broker.port, args.commits, False)
            busy = commit_latencies(work / "commit-busy", broker.port, args.commits, True)
    raw_rate, our_rate = statistics.median(raw), statistics.median(ours)

    def ms(samples: list[float]) -> str:
        return f"{pct(samples, 0.5):.2f} ms / {pct(samples, 0.99):.2f} ms"

    ratio = our_rate / raw_rate
    body = f"""
`scripts/bench_uplink.py --messages {args.messages} --rounds {args.rounds}`: a backlog of
{args.messages} committed entries (~{len(payloads[0])}-byte JSON) drained to a local mosquitto
at QoS 1, window {args.window}, against raw paho-mqtt publishing the same payloads with the same
window to the same broker, alternating, median of {args.rounds} rounds. Both are timed from the
CONNACK; the kiosk until its last acknowledgement is written to the outbox (row deleted), raw
paho until its last PUBACK arrives.

| what | figure |
| --- | --- |
| raw paho QoS 1 (baseline) | {raw_rate:,.0f} msg/s |
| kiosk outbox drain (delete on PUBACK) | {our_rate:,.0f} msg/s |
| **drain / raw** | **{ratio:.2f}×** (target ≥ 0.75×) |
| commit latency, uplink idle: p50 / p99 | {ms(idle)} |
| commit latency, uplink draining: p50 / p99 | {ms(busy)} (target p99 ≤ 10 ms) |
| memory: growth of resident set while draining | {max(growth):.1f} MB at most |
| memory: kiosk process with ledger, uplink and paho | {idle_rss:.0f} MB resident |

Commits are `synchronous=FULL` WAL transactions writing the entry and its outbox row
({args.commits} commits each). Every round's rates: raw {", ".join(f"{x:,.0f}" for x in raw)};
kiosk {", ".join(f"{x:,.0f}" for x in ours)} msg/s.
"""
    print(body)
    if not args.no_write:
        write_section("Uplink", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
