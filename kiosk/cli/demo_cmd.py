"""``kiosk demo``: entries committed locally and arriving at a local broker, with the outbox."""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections import Counter
from pathlib import Path

from kiosk.cli import Commands, Context
from kiosk.config import parse
from kiosk.ledger import Ledger
from kiosk.synthetic import synthetic_entry
from kiosk.uplink.collector import Collector
from kiosk.uplink.localbroker import LocalBroker, free_port, mosquitto_binary
from kiosk.uplink.publisher import Publisher


def register(commands: Commands) -> None:
    demo = commands.add("demo", "run a short demo on simulated devices", _demo)
    demo.add_argument("--duration", type=float, default=12.0, help="seconds to run")
    demo.add_argument("--rate", type=float, default=4.0, help="visitors per second")


def _say(text: str) -> None:
    print(text, flush=True)


def _demo(args: argparse.Namespace, ctx: Context) -> int:
    with tempfile.TemporaryDirectory(prefix="kiosk-demo-") as tmp:
        work = Path(tmp)
        broker = LocalBroker(work / "broker") if mosquitto_binary() else None
        port = broker.port if broker else free_port()
        config = parse(
            {
                "kiosk": {"id": "k-demo", "site": "demo-site", "state_dir": str(work / "state")},
                "uplink": {"port": port, "topic_prefix": "county/demo"},
            },
            source="demo",
        )
        _say("checkpoint-kiosk demo / 演示")
        _say(f"  ledger: {config.ledger_path}")
        if broker is None:
            _say("  mosquitto not installed: entries stay in the outbox (nothing is lost)")
        else:
            broker.start()
            _say(f"  local broker: mqtt://127.0.0.1:{port}  topics county/demo/kiosk/k-demo/#")
        collector = Collector(port, "county/demo/kiosk/+/+").start() if broker else None
        publisher = Publisher(config, ctx.stop)
        received: Counter[str] = Counter()
        rng = random.Random(7)  # noqa: S311 - synthetic data
        try:
            with Ledger(config.ledger_path) as ledger:
                publisher.start()
                started = time.monotonic()
                next_report = started
                committed = 0
                while not ctx.stop.is_set() and time.monotonic() - started < args.duration:
                    entry = ledger.commit(synthetic_entry(config.kiosk.id, config.kiosk.site, rng))
                    publisher.notify()
                    committed += 1
                    reasons = ",".join(entry.reasons) or "-"
                    _say(f"  committed #{entry.seq:<4} {entry.decision.value:5} {reasons}")
                    for msg in collector.drain() if collector else []:
                        if msg.topic.endswith("/entries"):
                            received[msg.doc["id"]] += 1
                    if time.monotonic() >= next_report:
                        next_report += 2.0
                        status = ledger.outbox_status()
                        _say(
                            f"  outbox: pending={status.pending} parked={status.parked} "
                            f"| broker received {len(received)} of {committed}"
                        )
                    ctx.stop.wait(1.0 / args.rate)
                deadline = time.monotonic() + 5.0
                while collector and len(received) < committed and time.monotonic() < deadline:
                    for msg in collector.drain():
                        if msg.topic.endswith("/entries"):
                            received[msg.doc["id"]] += 1
                    time.sleep(0.05)
                status = ledger.outbox_status()
                _say(f"  final outbox: {status.to_dict()}")
                _say(f"  committed {committed}, received {len(received)} at the broker")
        finally:
            ctx.stop.set()
            publisher.join()
            if collector:
                collector.stop()
            if broker:
                broker.stop()
    return 0 if (broker is None or len(received) == committed) else 1
