#!/usr/bin/env python3
"""Uplink benchmark: backlog drain rate vs raw paho QoS 1, in-process and through the CLI,
against a default mosquitto (Receive Maximum 20) and one with no limit; commit latency; memory.

Usage: .venv/bin/python scripts/bench_uplink.py [--messages N] [--rounds R] [--no-write]
Needs mosquitto. Writes the `## Uplink` section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import compileall
import os
import random
import shutil
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
from kiosk.uplink.delivery import HANDOFF
from kiosk.uplink.link import wire_window
from kiosk.uplink.localbroker import LocalBroker
from kiosk.uplink.publisher import Publisher

BROKERS = (("default mosquitto", None), ("unlimited mosquitto", 0))  # (name, max_inflight)


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


def advertised_receive_maximum(port: int) -> int | None:
    """The Receive Maximum in the broker's CONNACK (None: absent, i.e. 65,535)."""
    seen: list[int | None] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="rm-probe", protocol=mqtt.MQTTv5)
    client.on_connect = lambda _c, _u, _f, _rc, props: seen.append(
        getattr(props, "ReceiveMaximum", None)
    )
    client.connect("127.0.0.1", port)
    while not seen:
        client.loop(0.1)
    client.disconnect()
    return seen[0]


def raw_paho_rate(port: int, payloads: list[bytes], window: int) -> float:
    """Messages/s for plain paho QoS 1 publishing with the same window (as the broker's
    Receive Maximum allows: paho does not apply it itself), from CONNACK until the last
    PUBACK."""
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


def backlog(work: Path, entries: list) -> Path:  # type: ignore[type-arg]
    """A ledger file holding ``entries`` committed, every one still in the outbox."""
    config = _config(work, 1883, 32)
    with Ledger(config.ledger_path) as ledger:
        for entry in entries:
            ledger.commit(entry)
    return config.ledger_path


def kiosk_drain_rate(work: Path, port: int, ledger: Path, n: int, window: int) -> tuple[float, float]:  # fmt: skip
    """Messages/s for the kiosk draining a committed backlog of ``n`` (a copy of ``ledger``),
    from CONNACK until the outbox has recorded the last acknowledgement (deleted its row); and
    the most the process's resident memory grew meanwhile (MB)."""
    config = _config(work, port, window)
    config.ledger_path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ledger, config.ledger_path)
    entries = range(n)
    stop = threading.Event()
    publisher = Publisher(config, stop)
    base = peak = rss_mb()
    publisher.start()
    while not publisher.health().connected:
        time.sleep(0.0005)
    started = time.perf_counter()
    next_rss = started
    while publisher.health().acked < len(entries):
        publisher.wait_settled(0.05)  # this thread must not compete with the publisher
        now = time.perf_counter()
        if now >= next_rss:
            peak, next_rss = max(peak, rss_mb()), now + 0.1
    elapsed = time.perf_counter() - started
    stop.set()
    publisher.join()
    return len(entries) / elapsed, peak - base


def cli_drain_rate(work: Path, port: int, ledger: Path, n: int, window: int) -> float:
    """Messages/s for ``kiosk uplink drain`` on a copy of ``ledger`` (``n`` pending), timed
    from process start to its exit: interpreter start-up, imports, connection(s), drain."""
    state = work / "state"
    state.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ledger, state / "ledger.sqlite")
    config = work / "kiosk.toml"
    config.write_text(
        f'[kiosk]\nid = "k-bench"\nsite = "bench"\nstate_dir = "{state}"\n'
        f"[uplink]\nport = {port}\nwindow = {window}\n",
        encoding="utf-8",
    )
    started = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "kiosk",
            "uplink",
            "drain",
            "--config",
            str(config),
            "--timeout",
            "300",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"kiosk uplink drain failed: {result.stderr}")
    return n / elapsed


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


def median_ratio(ours: list[float], raw: list[float]) -> float:
    """Median of the per-round ratios (each round's runs are taken back to back)."""
    return statistics.median(o / r for o, r in zip(ours, raw, strict=True))


def best_ratio(ours: list[float], raw: list[float]) -> float:
    """Fastest run against fastest run: on a shared machine the fastest is the least
    disturbed by other work."""
    return max(ours) / max(raw)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--window", type=int, default=32)
    parser.add_argument("--commits", type=int, default=3000)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    rng = random.Random(2026)
    load = os.getloadavg()[0]
    rows = []
    # an installed kiosk has its bytecode compiled (pip does it); a source checkout run with
    # PYTHONDONTWRITEBYTECODE would compile every module at each CLI start instead
    compileall.compile_dir(Path(__file__).resolve().parent.parent / "kiosk", quiet=1)
    with tempfile.TemporaryDirectory(prefix="bench-uplink-") as tmp:
        work = Path(tmp)
        entries = _pass_entries(args.messages, rng)
        payloads = [e.with_seq(i + 1).entry_message() for i, e in enumerate(entries)]
        ledger = backlog(work / "template", entries)
        empty = backlog(work / "empty", [])
        for name, max_inflight in BROKERS:
            with LocalBroker(work / name.split()[0], receive_maximum=max_inflight) as broker:
                advertised = advertised_receive_maximum(broker.port)
                raw_window = wire_window(args.window, advertised)
                raw, ours, cli, growth = [], [], [], []
                for r in range(args.rounds):
                    raw.append(raw_paho_rate(broker.port, payloads, raw_window))
                    rate, grew = kiosk_drain_rate(
                        work / f"{name[:3]}-drain{r}",
                        broker.port,
                        ledger,
                        len(entries),
                        args.window,
                    )
                    ours.append(rate)
                    growth.append(grew)
                    cli.append(cli_drain_rate(
                        work / f"{name[:3]}-cli{r}", broker.port, ledger, len(entries), args.window
                    ))  # fmt: skip
                    print(f"{name} round {r + 1}: raw {raw[-1]:.0f}/s, in-process "
                          f"{ours[-1]:.0f}/s, CLI {cli[-1]:.0f}/s", flush=True)  # fmt: skip
                startup = min(
                    n / cli_drain_rate(work / f"{name[:3]}-empty{r}", broker.port, empty, n, 32)
                    for r, n in enumerate([1] * 3)
                )
                rows.append((name, advertised, raw, ours, cli, growth, startup))
            if max_inflight == 0:
                idle_rss = 0.0
                with LocalBroker(work / "rss-broker") as rss_broker:
                    idle_rss = kiosk_process_rss(work / "rss", rss_broker.port)
                    idle = commit_latencies(
                        work / "commit-idle", rss_broker.port, args.commits, False
                    )
                    busy = commit_latencies(
                        work / "commit-busy", rss_broker.port, args.commits, True
                    )

    def ms(samples: list[float]) -> str:
        return f"{pct(samples, 0.5):.2f} ms / {pct(samples, 0.99):.2f} ms"

    def rates(xs: list[float]) -> str:
        return ", ".join(f"{x:,.0f}" for x in xs)

    table = []
    details = []
    for name, advertised, raw, ours, cli, growth, startup in rows:
        shown = "none (65,535)" if advertised is None else str(advertised)
        table.append(
            f"| {name} | {shown} | {max(raw):,.0f} | {max(ours):,.0f} "
            f"| **{best_ratio(ours, raw):.2f}×** ({median_ratio(ours, raw):.2f}×) "
            f"| {max(cli):,.0f} | **{best_ratio(cli, raw):.2f}×** ({median_ratio(cli, raw):.2f}×) "
            f"| {startup:.2f} s | {max(growth):.1f} MB |"
        )
        details.append(
            f"{name}: raw {rates(raw)}; in-process {rates(ours)}; CLI {rates(cli)} msg/s."
        )
    body = f"""
`scripts/bench_uplink.py --messages {args.messages} --rounds {args.rounds}`: a backlog of
{args.messages} committed entries (~{len(payloads[0])}-byte JSON) drained at QoS 1 with the
kiosk's window of {args.window}, to a local mosquitto with its **default configuration** (it
advertises Receive Maximum 20 in its CONNACK) and to one with no limit
(`max_inflight_messages 0`). The baseline is raw paho-mqtt publishing the same payloads to the
same broker with the window the broker allows (paho itself ignores Receive Maximum), timed
from its CONNACK to its last PUBACK. The kiosk is timed two ways, alternating with the
baseline in each of {args.rounds} rounds: the table gives the fastest of the rounds for
each and their ratio (the machine is shared: the fastest run is the least disturbed), and in
brackets the median of the per-round ratios. The kiosk is timed **in-process** from CONNACK until its last acknowledgement is written to the outbox (row
deleted), and **through the CLI**, `kiosk uplink drain`, from process start to exit
(interpreter start-up, imports of bytecode compiled beforehand as pip does on install,
connecting — twice against a broker advertising less than the kiosk's window — drain, final
save, `offline`, disconnect).

| broker | Receive Maximum | raw paho (baseline), msg/s | in-process drain, msg/s | in-process / raw | `kiosk uplink drain`, msg/s | CLI / raw | CLI with an empty outbox | RSS growth while draining |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
{chr(10).join(table)}

Targets: in-process ≥ 0.75×, CLI including start-up ≥ 0.5×, both brokers (before the
per-connection client, issue 12 measured 0.17× for `kiosk uplink drain` against the default
broker).
Load average when the run started: {load:.1f} on {os.cpu_count()} cores. "CLI with an
empty outbox" is the fixed cost of one `kiosk uplink drain` (fastest of 3): start-up,
connection(s), `offline`, exit.

Where the kiosk's time goes beyond raw paho's, from `py-spy --gil` profiles and PUBACK
timelines of single drains (`kiosk/uplink/relay.py` explains the hand-over):
- The publisher thread's own work (reading rows, recording hand-overs, deleting acknowledged
  rows) is a small share; what cost most was contention, not work. A refill that stopped at
  the 256-row read-ahead let paho run out of rows every 256 messages, and `publish()` calls
  from the publisher thread fought paho's PUBACK handling for its message lock and the GIL
  (single fills of 40-80 ms, with the window idle for up to 35 ms inside them). In a drain,
  paho's own thread now publishes the next fed row per PUBACK.
- Every wake-up of the publisher thread takes the GIL from paho's thread, and its SQLite
  calls release and retake it. Waking per quarter of what paho holds (about 30 times in a
  5,000-row drain) cost about a tenth of the rate against waking when all of it is
  acknowledged or every 50 ms (about 8 times): 0.72x -> 0.79x of raw paho in paired runs,
  0.68x -> 0.74-0.78x on 20,000 rows. paho's per-packet DEBUG log lines, dropped by
  `Logger.log` one by one, cost another 2-3 %; the kiosk's logger wrapper now drops them
  before that call.
- The last acknowledgement is written with the outbox's last `DELETE`; on a 5,000-row drain
  that commit usually also runs SQLite's WAL checkpoint (about 10 ms on this machine, 30-40 ms
  on a three times slower one), and the CLI's close checkpoints again (about 9 ms). Raw paho
  deletes nothing.
- mosquitto's default `set_tcp_nodelay false` (Nagle) and the client's delayed ACK hold the
  broker's last PUBACKs about 40 ms once the client stops sending: raw paho pays this at its
  tail too. Whenever the kiosk paused its stream mid-drain (an experiment that primed paho
  with only two windows of rows), the same 40 ms stall struck every few hundred messages, so
  the publisher keeps paho holding {HANDOFF} rows per window slot.
- `kiosk uplink drain` pays Python start-up and imports (paho alone imports `urllib.request`,
  `email` and `ssl`; about 80 ms of imports in all, a quarter of them the creation of the
  config's and model's dataclasses); in this venv the editable install's import hook adds
  about 8 ms. Against the unlimited broker the CLI has the least margin (0.51-0.53x in
  today's runs): raw paho there uses the kiosk's full window of 32.

| what | figure |
| --- | --- |
| commit latency, uplink idle: p50 / p99 | {ms(idle)} |
| commit latency, uplink draining: p50 / p99 | {ms(busy)} (target p99 ≤ 10 ms) |
| memory: kiosk process with ledger, uplink and paho | {idle_rss:.0f} MB resident |

Commits are `synchronous=FULL` WAL transactions writing the entry and its outbox row
({args.commits} commits each, unlimited broker). Every round's rates:
{chr(10).join(details)}
"""
    print(body)
    if not args.no_write:
        write_section("Uplink", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
