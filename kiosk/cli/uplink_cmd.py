"""Ledger and uplink subcommands: simulate entries, drain, outbox status/retry, export, purge."""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path

from kiosk.cli import Commands, Context
from kiosk.cli.output import emit
from kiosk.config import Config, load
from kiosk.export import csv_lines, jsonl_lines
from kiosk.ledger import Ledger
from kiosk.model import parse_utc
from kiosk.storage import OutboxStatus
from kiosk.synthetic import synthetic_entry
from kiosk.uplink.outbox import Outbox
from kiosk.uplink.publisher import Publisher

logger = logging.getLogger(__name__)


def register(commands: Commands) -> None:
    sim = commands.group("simulate", "simulated devices and traffic").add(
        "entries", "commit synthetic entries through the real ledger while the uplink publishes",
        _simulate_entries,
    )  # fmt: skip
    _config_arg(sim)
    sim.add_argument("--count", type=_positive_int, required=True, help="entries to commit")
    sim.add_argument("--rate", type=float, default=0.0, help="entries per second (0 = no pause)")
    sim.add_argument("--timeout", type=float, default=300.0, help="bound on commit + drain, s")
    sim.add_argument("--seed", type=int, default=None, help="random seed for the entry mix")
    sim.add_argument(
        "--echo",
        action="store_true",
        help="print each committed entry's wire documents (entry, alert) as one JSON line",
    )

    drain = commands.group("uplink", "the MQTT uplink").add(
        "drain", "publish until the outbox is empty", _drain
    )
    _config_arg(drain)
    drain.add_argument("--timeout", type=float, default=60.0, help="give up after S seconds")

    outbox = commands.group("outbox", "the outbox of entries waiting for the broker")
    _config_arg(outbox.add("status", "pending and parked rows as JSON", _outbox_status))
    _config_arg(outbox.add("retry", "queue parked rows again", _outbox_retry))

    ledger = commands.group("ledger", "the local ledger (台账)")
    export = ledger.add("export", "every entry as CSV or JSON lines", _export)
    _config_arg(export)
    export.add_argument("--format", choices=["csv", "jsonl"], default="csv")
    export.add_argument("--since", type=parse_utc, default=None, help="ISO 8601, inclusive")
    export.add_argument("--until", type=parse_utc, default=None, help="ISO 8601, exclusive")
    _config_arg(ledger.add("purge", "delete delivered entries past retention", _purge))


def _config_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, required=True, help="TOML config file")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def start_publisher(config: Config, stop: threading.Event) -> Publisher:
    """Start the publisher thread (it reads the broker password, if any)."""
    publisher = Publisher(config, stop)
    publisher.start()
    return publisher


def wait_drained(
    ledger: Ledger,
    publisher: Publisher,
    deadline: float,
    stop: threading.Event,
    confirm_for: str | None = None,
) -> OutboxStatus:
    """Poll until nothing is pending (and, with ``confirm_for`` = a kiosk id, the county's
    receipt confirms its last ``seq``), the deadline passes, the publisher ends or ``stop``.

    The publisher re-queues what a receipt lists as missing, so pending may rise again.
    """

    def done() -> bool:
        if ledger.has_pending():
            return False
        if confirm_for is None:
            return True
        confirmed, last = ledger.receipt_progress(confirm_for)
        return last == 0 or (confirmed is not None and confirmed >= last)

    while not done() and publisher.alive and time.monotonic() < deadline and not stop.is_set():
        publisher.wait_settled(0.05)  # the publisher says when to look again
    return ledger.outbox_status()


def unconfirmed(ledger: Ledger, config: Config) -> int:
    """With receipts on: how many of the kiosk's entries the county has not confirmed."""
    if not config.uplink.receipts:
        return 0
    confirmed, last = ledger.receipt_progress(config.kiosk.id)
    return max(0, last - (confirmed or 0))


def _finish(status: OutboxStatus, doc: Mapping[str, object], unconfirmed: int = 0) -> int:
    emit({**doc, "outbox": status.to_dict()})
    if status.parked:
        print(
            f"{status.parked} rows parked (refused by the broker); see kiosk outbox status",
            file=sys.stderr,
        )
    if unconfirmed:
        print(
            f"{unconfirmed} entries not yet confirmed by the county's receipt "
            f"(confirmed up to #{status.confirmed_seq})",
            file=sys.stderr,
        )
    return 0 if status.pending == 0 and status.parked == 0 and not unconfirmed else 1


def _simulate_entries(args: argparse.Namespace, ctx: Context) -> int:
    config = load(args.config)
    started = time.monotonic()
    deadline = started + args.timeout
    rng = random.Random(args.seed)  # noqa: S311 - synthetic data, not security
    with Ledger(config.ledger_path) as ledger:
        publisher = start_publisher(config, ctx.stop) if config.uplink.enabled else None
        first = last = None
        committed = 0
        try:
            for i in range(args.count):
                if args.rate > 0:
                    ctx.stop.wait(max(0.0, started + i / args.rate - time.monotonic()))
                if ctx.stop.is_set() or time.monotonic() > deadline:
                    break
                entry = ledger.commit(synthetic_entry(config.kiosk.id, config.kiosk.site, rng))
                committed += 1
                if args.echo:  # what was committed, as it is committed (for chaos tests)
                    alert = json.loads(entry.alert_message()) if entry.alert_reasons else None
                    emit({"entry": json.loads(entry.entry_message()), "alert": alert})
                first = entry.seq if first is None else first
                last = entry.seq
                if publisher is not None:
                    publisher.notify()
            status = wait_drained(ledger, publisher, deadline, ctx.stop) if publisher else None
        finally:
            ctx.stop.set()
            if publisher is not None:
                publisher.join()
        status = status or ledger.outbox_status()
        doc = {
            "committed": committed,
            "first_seq": first,
            "last_seq": last,
            "elapsed_s": round(time.monotonic() - started, 3),
        }
        if publisher is None:
            emit({**doc, "outbox": status.to_dict(), "uplink": "disabled"})
            return 0 if committed == args.count else 1
        code = _finish(status, doc)
        return code if committed == args.count else 1


def _drain(args: argparse.Namespace, ctx: Context) -> int:
    config = load(args.config)
    if not config.uplink.enabled:
        print("uplink is disabled in the config (uplink.enabled = false)", file=sys.stderr)
        return 1
    started = time.monotonic()
    with Ledger(config.ledger_path) as ledger:
        publisher = start_publisher(config, ctx.stop)
        confirm_for = config.kiosk.id if config.uplink.receipts else None
        try:
            wait_drained(ledger, publisher, started + args.timeout, ctx.stop, confirm_for)
        finally:
            ctx.stop.set()
            publisher.join()
        status = ledger.outbox_status()
        doc = {"elapsed_s": round(time.monotonic() - started, 3)}
        return _finish(status, doc, unconfirmed(ledger, config))


def _outbox_status(args: argparse.Namespace, _ctx: Context) -> int:
    config = load(args.config)
    with Ledger(config.ledger_path) as ledger:
        emit(ledger.outbox_status().to_dict())
    return 0


def _outbox_retry(args: argparse.Namespace, _ctx: Context) -> int:
    config = load(args.config)
    outbox = Outbox(config.ledger_path).open()
    try:
        emit({"requeued": outbox.unpark()})
    finally:
        outbox.close()
    return 0


def _export(args: argparse.Namespace, _ctx: Context) -> int:
    config = load(args.config)
    lines = csv_lines if args.format == "csv" else jsonl_lines
    with Ledger(config.ledger_path) as ledger:
        for line in lines(ledger.entries(args.since, args.until)):
            sys.stdout.write(line)
    sys.stdout.flush()
    return 0


def _purge(args: argparse.Namespace, _ctx: Context) -> int:
    config = load(args.config)
    with Ledger(config.ledger_path) as ledger:
        purged = ledger.purge(config.kiosk.retention_days, confirmed_only=config.uplink.receipts)
        emit({"purged": purged})
    return 0
