#!/usr/bin/env python3
"""Desk benchmark: does a slow webhook delay ingest? A kiosk's real uplink publishes entries
(a quarter of them alerts) to a local mosquitto; the real county ingest commits them to SQLite.
Phases alternate without and with the desk's notifier sending to a receiver slower than
``notify.timeout_s``. Latency is from the kiosk's ledger commit to the entry being visible
in the county database (polled every 5 ms), so it includes the uplink and the batch window.

Usage: .venv/bin/python scripts/bench_desk.py [--entries N] [--rounds R] [--no-write]
Needs mosquitto. Writes the `## Desk: webhooks and ingest` section of docs/benchmarks.md.
``run_phases`` is also what tests/integration/test_county_notify.py runs (without timing).
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import write_section

from county.app import build_desk
from county.config import Config
from county.config import parse as county_parse
from county.desk.db import DeskDb
from county.ingest.worker import Ingest
from county.notify.hooks import Hook
from county.notify.receiver import WebhookReceiver
from county.notify.worker import Notifier, hook_id
from county.store import open_store
from kiosk.config import parse as kiosk_parse
from kiosk.ledger import Ledger
from kiosk.model import Entry, Outcome
from kiosk.uplink.localbroker import LocalBroker, free_port
from kiosk.uplink.publisher import Publisher

KIOSK = "k-bench"
TIMEOUT_S = 1.0


#: What the notifier does in a phase: not run, send to a prompt receiver, to a slow one.
KINDS = ("none", "prompt", "slow")


@dataclass
class Phase:
    webhook: str  # one of KINDS
    published: int = 0
    alerts: int = 0
    committed: int = 0
    latencies: list[float] = field(default_factory=list)  # seconds, one per committed entry

    def quantile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass
class DeskRun:
    phases: list[Phase]
    receiver_requests: int
    timeouts: int  # deliveries whose last attempt ran into notify.timeout_s
    notifier_alive: bool
    ingest_failed: int  # batches the store refused or could not take
    slow_hook: str  # the slow receiver's hook id, as the desk shows it


class Watcher:
    """Records when each entry id first becomes visible in the county's SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seen: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="watcher", daemon=True)

    def _run(self) -> None:
        db = sqlite3.connect(self.path)
        last = 0
        try:
            while not self._stop.wait(0.005):
                rows = db.execute("SELECT rowid, id FROM entries WHERE rowid > ?", (last,))
                now = time.monotonic()
                for rowid, entry_id in rows.fetchall():
                    self.seen.setdefault(entry_id, now)
                    last = max(last, rowid)
        finally:
            db.close()

    def __enter__(self) -> Watcher:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


def _county(workdir: Path, broker_port: int, hook_url: str) -> Config:
    return county_parse(
        {
            "county": {"id": "330106", "state_dir": str(workdir)},
            "broker": {"host": "127.0.0.1", "port": broker_port, "topic_prefix": "county/demo"},
            "database": {"url": f"sqlite://{workdir / 'county.sqlite'}"},
            "desk": {"port": free_port(), "cookie_secure": False},
            "notify": {
                "webhooks": [f"wecom {hook_url}"],
                "timeout_s": TIMEOUT_S,
                "retry_min_s": 0.5,
                "retry_max_s": 2.0,
                "poll_s": 0.1,
            },
        },
        source="bench",
    )


def _entry(n: int) -> Entry:
    if n % 4 == 0:  # a red code: an alert the notifier sends
        return Entry.new(KIOSK, "bench", Outcome.DENY, ("code.red",), masked_name="王*")
    return Entry.new(KIOSK, "bench", Outcome.PASS, ("code.green",), masked_name="李*")


def _publish(
    ledger: Ledger, publisher: Publisher, watcher: Watcher, phase: Phase, count: int, rate: float
) -> None:
    committed_at: dict[str, float] = {}
    start = time.monotonic()
    for n in range(count):
        time.sleep(max(0.0, start + n / rate - time.monotonic()))
        entry = ledger.commit(_entry(n))
        committed_at[entry.id] = time.monotonic()
        publisher.notify()
        phase.published += 1
        phase.alerts += bool(entry.alert_reasons)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(i not in watcher.seen for i in committed_at):
        time.sleep(0.05)
    seen = {i: watcher.seen[i] for i in committed_at if i in watcher.seen}
    phase.committed = len(seen)
    phase.latencies = [seen[i] - committed_at[i] for i in seen]


def run_phases(
    workdir: Path,
    broker_port: int,
    *,
    entries: int,
    rate: float,
    slow_delay_s: float,
    rounds: int = 1,
    inspect: Callable[[int, DeskDb], Any] | None = None,
) -> DeskRun:
    """``rounds`` x (a phase without the notifier, one with it sending to a prompt receiver,
    one sending to a receiver that takes ``slow_delay_s`` to answer); ``inspect(desk_port,
    desk_db)`` runs while the desk still serves, after the last slow phase."""
    stop = threading.Event()
    phases: list[Phase] = []
    with WebhookReceiver(delay_s=slow_delay_s) as slow, WebhookReceiver() as prompt:
        hooks = {
            kind: Hook("wecom", f"{receiver.url}/cgi-bin/webhook/send?key={kind}")
            for kind, receiver in (("slow", slow), ("prompt", prompt))
        }
        config = _county(workdir, broker_port, hooks["slow"].url)
        server, _unused, desk_db = build_desk(config, stop)
        server.start()
        ingest = Ingest(config, open_store(config), stop)
        ingest.start()
        kiosk = kiosk_parse(
            {
                "kiosk": {"id": KIOSK, "site": "bench", "state_dir": str(workdir / "kiosk")},
                "uplink": {"port": broker_port},
            },
            source="bench",
        )
        kiosk_stop = threading.Event()
        publisher = Publisher(kiosk, kiosk_stop)
        publisher.start()
        notifier: Notifier | None = None
        alive = True
        try:
            deadline = time.monotonic() + 10
            while not ingest.stats().connected and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.3)  # the SUBSCRIBE follows the CONNACK
            with Ledger(kiosk.ledger_path) as ledger, Watcher(workdir / "county.sqlite") as w:
                for _ in range(rounds):
                    for kind in KINDS:
                        phase = Phase(kind)
                        if kind != "none":
                            notify_stop = threading.Event()
                            notifier = Notifier(
                                config, DeskDb(config), [hooks[kind]], notify_stop
                            ).start()
                        _publish(ledger, publisher, w, phase, entries, rate)
                        if notifier is not None:
                            alive = alive and notifier.alive
                            last = len(phases) == len(KINDS) * rounds - 1
                            if inspect is not None and last:
                                inspect(server.port, desk_db)
                            notify_stop.set()
                            notifier.join(TIMEOUT_S + 5)
                            notifier = None
                        phases.append(phase)
            timeouts = desk_db.one(
                "SELECT count(*) FROM deliveries WHERE hook = ? AND last_error LIKE '%timed out%'",
                (hook_id(hooks["slow"]),),
            )
        finally:
            kiosk_stop.set()
            publisher.join(10)
            stop.set()
            ingest.join(20)
            server.stop()
            desk_db.close()
        stats = ingest.stats()
        requests = len(slow.received)
    return DeskRun(
        phases=phases,
        receiver_requests=requests,
        timeouts=int(timeouts[0]) if timeouts else 0,
        notifier_alive=alive,
        ingest_failed=stats.store_errors,
        slow_hook=hook_id(hooks["slow"]),
    )


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def report(run: DeskRun, entries: int, rate: float, slow_delay_s: float) -> str:
    merged = {
        kind: Phase(
            kind, latencies=[x for p in run.phases if p.webhook == kind for x in p.latencies]
        )
        for kind in KINDS
    }
    lines = [
        f"A kiosk's uplink publishes {entries} entries per phase at {rate:g}/s (every fourth a "
        "red-code alert) to a local mosquitto; the county ingest commits them to SQLite. Phases "
        f"alternate ({len(run.phases) // len(KINDS)} rounds): the desk's notifier not running, "
        "sending every alert to a prompt 企业微信-style receiver, and sending to one that "
        f"answers after {slow_delay_s:g} s (`notify.timeout_s` = {TIMEOUT_S:g} s). Latency: "
        "kiosk ledger commit -> row visible in the county database.",
        "",
        "| notifier | entries committed | p50 | p95 | max |",
        "|---|---|---|---|---|",
    ]
    names = {"none": "not running", "prompt": "prompt webhook", "slow": "slow webhook"}
    for kind, phase in merged.items():
        total = sum(p.published for p in run.phases if p.webhook == kind)
        committed = sum(p.committed for p in run.phases if p.webhook == kind)
        lines.append(
            f"| {names[kind]} | {committed}/{total} | {_ms(phase.quantile(0.5))} | "
            f"{_ms(phase.quantile(0.95))} | {_ms(max(phase.latencies))} |"
        )
    base, slow = merged["none"], merged["slow"]
    lines += [
        "",
        f"Ratio slow webhook / not running: p50 {slow.quantile(0.5) / base.quantile(0.5):.2f}, "
        f"p95 {slow.quantile(0.95) / base.quantile(0.95):.2f}. The slow receiver got "
        f"{run.receiver_requests} requests; {run.timeouts} deliveries were left timed out and "
        f"pending for a retry; the notifier stayed alive: {run.notifier_alive}.",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--entries", type=int, default=200, help="entries per phase")
    parser.add_argument("--rate", type=float, default=20.0, help="entries per second")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--slow", type=float, default=3.0, help="receiver answers after S s")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, LocalBroker(Path(tmp) / "broker") as broker:
        run = run_phases(
            Path(tmp), broker.port, entries=args.entries, rate=args.rate,
            slow_delay_s=args.slow, rounds=args.rounds,
        )  # fmt: skip
    text = report(run, args.entries, args.rate, args.slow)
    print(text)
    print(f"(run at {datetime.now(UTC):%Y-%m-%d %H:%M} UTC)")
    if not args.no_write:
        write_section("Desk: webhooks and ingest", text)
    return 0 if all(p.committed == p.published for p in run.phases) else 1


if __name__ == "__main__":
    sys.exit(main())
