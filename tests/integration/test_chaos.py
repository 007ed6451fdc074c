"""Chaos: broker and kiosk SIGKILLed repeatedly while entries flow; nothing may go missing.

What was committed is recorded as it is committed (``kiosk simulate entries --echo`` prints each
entry's wire documents right after its transaction), and every message on every kiosk topic is
compared, whole, with what was committed."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kiosk.ledger import Ledger
from kiosk.uplink.collector import Collector, Received
from kiosk.uplink.localbroker import LocalBroker
from tests.helpers import config_dict, kiosk_popen, wait_until, write_config

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TOTAL = 3000
RATE = 250  # entries per second while a kiosk process runs
KILLS = 3  # of the broker and of the kiosk each
PREFIX = "county/demo/kiosk/"


def read_echo(path: Path, killed: bool) -> list[dict[str, Any]]:
    """The ``--echo`` lines of one kiosk process; a SIGKILL may cut its last line short."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    if killed and lines and not lines[-1].endswith("\n"):
        lines.pop()
    docs = [json.loads(line) for line in lines]
    return [d for d in docs if "entry" in d]  # the last line of a finished run is its summary


def last_seq(echo: Path) -> int:
    docs = read_echo(echo, killed=True)
    return int(docs[-1]["entry"]["seq"]) if docs else 0


def test_nothing_lost_across_broker_and_kiosk_kills(
    tmp_path: Path, report: Callable[[str], None]
) -> None:
    rng = random.Random(2026)
    broker = LocalBroker(tmp_path / "broker", save_every_change=True).start()
    values = config_dict(
        tmp_path / "state", broker.port, uplink={"reconnect_min_s": 1, "reconnect_max_s": 1}
    )
    config = write_config(tmp_path / "kiosk.toml", values)
    ledger_path = tmp_path / "state" / "ledger.sqlite"
    collector = Collector(broker.port, PREFIX + "#", "county-ingest").start()
    assert collector.connected.wait(10)
    entries: dict[str, dict[str, Any]] = {}  # id -> entry document, as committed
    alerts: dict[str, dict[str, Any]] = {}  # entry id -> alert document, as committed
    arrivals: Counter[str] = Counter()  # ("entries"|"alerts", entry id) as "leaf:id"
    received: list[Received] = []
    kiosk_resends = 0  # a repeat with DUP=0: the kiosk's at-least-once re-send

    def collect() -> None:
        nonlocal kiosk_resends
        for msg in collector.drain():
            received.append(msg)
            leaf = msg.topic.rsplit("/", 1)[-1]
            if leaf in ("entries", "alerts"):
                key = f"{leaf}:{msg.doc['entry_id' if leaf == 'alerts' else 'id']}"
                kiosk_resends += key in arrivals and not msg.dup
                arrivals[key] += 1

    def run_kiosk(n: int, count: int, rate: float) -> tuple[subprocess.Popen[str], Path]:
        echo = tmp_path / f"echo-{n}.jsonl"
        with echo.open("w", encoding="utf-8") as out:
            argv = ["simulate", "entries", "--config", str(config), "--echo", "--timeout", "300"]
            proc = kiosk_popen(*argv, "--count", str(count), "--rate", str(rate), stdout=out)
        return proc, echo

    def record(echo: Path, killed: bool) -> None:
        for doc in read_echo(echo, killed):
            entries[doc["entry"]["id"]] = doc["entry"]
            if doc["alert"] is not None:
                alerts[doc["entry"]["id"]] = doc["alert"]

    broker_kills = kiosk_kills = 0
    killed_at: list[int] = []  # the last committed seq at each broker SIGKILL
    restarted_at: list[int] = []  # ... and when the broker started again
    kiosk_killed_at: list[int] = []  # the last recorded seq at each kiosk SIGKILL
    kiosk: subprocess.Popen[str] | None = None
    try:
        # kill the kiosk while it commits, kill the broker (down for a while), three times each;
        # the kiosk is given more than it can commit before its kill, so the kill always lands
        while broker_kills < KILLS or kiosk_kills < KILLS:
            kiosk, echo = run_kiosk(kiosk_kills, 10 * TOTAL, RATE)
            time.sleep(rng.uniform(0.8, 1.6))
            assert broker.kill() == -signal.SIGKILL
            killed_at.append(last_seq(echo))
            broker_kills += 1
            time.sleep(rng.uniform(0.3, 2.0))  # entries keep being committed meanwhile
            restarted_at.append(last_seq(echo))
            broker.start()
            time.sleep(rng.uniform(0.5, 1.5))
            kiosk.kill()
            _, err = kiosk.communicate()
            (tmp_path / f"stderr-{kiosk_kills}.txt").write_text(err)  # for a failure's story
            assert kiosk.returncode == -signal.SIGKILL  # the kill hit a live process
            kiosk_kills += 1
            record(echo, killed=True)
            kiosk_killed_at.append(max((d["seq"] for d in entries.values()), default=0))
            collect()
        # a last kiosk process commits the rest undisturbed and drains the outbox
        kiosk, echo = run_kiosk(kiosk_kills, max(1, TOTAL - len(entries)), 0)
        _, err = kiosk.communicate(timeout=180)
        assert kiosk.returncode == 0, err
        record(echo, killed=False)

        def all_arrived() -> bool:
            collect()
            return all(f"entries:{i}" in arrivals for i in entries) and all(
                f"alerts:{i}" in arrivals for i in alerts
            )

        wait_until(all_arrived, timeout=30)
    finally:
        if kiosk is not None and kiosk.poll() is None:
            kiosk.kill()
            kiosk.communicate()
        collector.stop()
        broker.stop()

    with Ledger(ledger_path) as ledger:
        in_ledger = {e.id for e, _ in ledger.entries()}
    # a SIGKILL between a commit and its echo line leaves at most one entry per kill unrecorded
    unrecorded = in_ledger - set(entries)
    assert set(entries) <= in_ledger and len(unrecorded) <= kiosk_kills

    missing = [i for i in entries if f"entries:{i}" not in arrivals]
    missing_alerts = [i for i in alerts if f"alerts:{i}" not in arrivals]
    duplicates = sum(n - 1 for n in arrivals.values())
    share = 100 / len(entries)
    report(
        f"chaos: {len(entries)} entries and {len(alerts)} alerts committed, {broker_kills} "
        f"broker SIGKILLs, {kiosk_kills} kiosk SIGKILLs -> missing {len(missing)} entries, "
        f"{len(missing_alerts)} alerts; repeats at the subscriber {duplicates} "
        f"({duplicates * share:.2f} %), of which kiosk re-sends {kiosk_resends} "  # a figure:
        # at-least-once re-sends after a kill depend on timing (seen 0.8-14 %), not asserted
        f"({kiosk_resends * share:.2f} %); broker killed at seq {killed_at}, restarted at "
        f"{restarted_at}, kiosk killed at {kiosk_killed_at}; missing seqs "
        f"{sorted(entries[i]['seq'] for i in missing)[:20]}, alert seqs "
        f"{sorted(alerts[i]['seq'] for i in missing_alerts)[:20]}"
    )
    assert len(entries) >= TOTAL and len(alerts) > 0.05 * TOTAL
    # The kiosk deletes a row only on its PUBACK, so what it sent after the last broker kill
    # must all arrive. A broker SIGKILLed between acknowledging a message and saving it (or
    # delivering it) loses it, whatever the publisher does: mosquitto saves from its main loop,
    # so a busy machine can leave a batch unsaved (the county's receipts heal exactly that;
    # test_county_broker_loss and test_county_chaos prove it). Such losses are reported above
    # and must lie at or before a broker kill.
    lost = sorted(entries[i]["seq"] for i in missing) + sorted(
        alerts[i]["seq"] for i in missing_alerts
    )
    assert all(seq <= max(killed_at) + RATE for seq in lost), (lost, killed_at)
    assert len(lost) <= 0.02 * TOTAL, (lost, killed_at)
    # every message on every topic is one the kiosk committed (or its status), whole
    for msg in received:
        leaf = msg.topic.rsplit("/", 1)[-1]
        if leaf == "entries":
            doc_id = msg.doc["id"]
            assert msg.doc == entries.get(doc_id) or doc_id in unrecorded, msg.doc
        elif leaf == "alerts":
            entry_id = msg.doc["entry_id"]
            assert entry_id in entries or entry_id in unrecorded, msg.doc
            assert msg.doc == alerts.get(entry_id) or entry_id in unrecorded, msg.doc
        elif leaf == "status":
            assert msg.doc["kiosk"] == "k-001" and msg.doc["state"] in ("online", "offline")
        else:
            assert leaf == "state" and msg.topic == f"{PREFIX}k-001/state", msg.topic
