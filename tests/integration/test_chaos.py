"""Chaos: broker and kiosk SIGKILLed repeatedly while entries flow; nothing may go missing."""

from __future__ import annotations

import json
import random
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from kiosk.ledger import Ledger
from kiosk.uplink.collector import Collector
from kiosk.uplink.localbroker import LocalBroker
from tests.helpers import config_dict, kiosk_cmd, kiosk_popen, write_config
from tests.integration.test_uplink import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TOTAL = 3000
RATE = 250  # entries per second while a kiosk process runs


def _committed(path: Path) -> int:
    if not path.exists():
        return 0
    with Ledger(path) as ledger:
        return sum(1 for _ in ledger.entries())


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
    collector = Collector(broker.port, "county/demo/kiosk/+/entries", "county-ingest").start()
    assert collector.connected.wait(10)
    arrivals: Counter[str] = Counter()
    # a repeat with DUP=0 is a second PUBLISH from the kiosk (its at-least-once re-send); a repeat
    # with DUP=1 is the broker re-delivering to the subscriber from its last save after a SIGKILL
    repeats: Counter[str] = Counter()

    def collect() -> None:
        for msg in collector.drain():
            if msg.doc["id"] in arrivals:
                repeats["broker" if msg.dup else "kiosk"] += 1
            arrivals[msg.doc["id"]] += 1

    broker_kills = kiosk_kills = 0
    kiosk: subprocess.Popen[str] | None = None
    try:
        # alternate: kill the kiosk, kill the broker (down for a while), until both reach 3+
        while broker_kills < 3 or kiosk_kills < 3 or _committed(ledger_path) < TOTAL // 2:
            remaining = TOTAL - _committed(ledger_path)
            if remaining <= 0:
                break
            kiosk = kiosk_popen(
                "simulate",
                "entries",
                "--config",
                str(config),
                "--count",
                str(remaining),
                "--rate",
                str(RATE),
                "--timeout",
                "300",
            )
            time.sleep(rng.uniform(0.8, 1.6))
            broker.kill()
            broker_kills += 1
            time.sleep(rng.uniform(0.3, 2.0))  # entries keep being committed meanwhile
            broker.start()
            time.sleep(rng.uniform(0.5, 1.5))
            kiosk.kill()
            kiosk.communicate()
            kiosk_kills += 1
            collect()
        # let a last kiosk process finish the job undisturbed
        remaining = TOTAL - _committed(ledger_path)
        if remaining > 0:
            result = kiosk_cmd(
                "simulate",
                "entries",
                "--config",
                str(config),
                "--count",
                str(remaining),
                "--rate",
                "0",
                "--timeout",
                "120",
            )
            assert result.returncode == 0, result.stderr
        drained = kiosk_cmd("uplink", "drain", "--config", str(config), "--timeout", "60")
        assert drained.returncode == 0, drained.stderr
        assert json.loads(drained.stdout)["outbox"]["pending"] == 0

        with Ledger(ledger_path) as ledger:
            committed = [e.id for e, _ in ledger.entries()]

        def all_arrived() -> bool:
            collect()
            return all(i in arrivals for i in committed)

        wait_until(all_arrived, timeout=30)
    finally:
        if kiosk is not None and kiosk.poll() is None:
            kiosk.kill()
            kiosk.communicate()
        collector.stop()
        broker.stop()

    missing = [i for i in committed if i not in arrivals]
    duplicates = sum(n - 1 for n in arrivals.values())
    share = 100 / len(committed)
    report(
        f"chaos: {len(committed)} entries committed, {broker_kills} broker SIGKILLs, "
        f"{kiosk_kills} kiosk SIGKILLs -> missing {len(missing)}; duplicates at the subscriber "
        f"{duplicates} ({duplicates * share:.2f} %): kiosk re-sends {repeats['kiosk']} "
        f"({repeats['kiosk'] * share:.2f} %), broker re-deliveries after its SIGKILLs "
        f"{repeats['broker']} ({repeats['broker'] * share:.2f} %)"
    )
    assert len(committed) >= TOTAL
    assert broker_kills >= 3 and kiosk_kills >= 3
    assert missing == []
    assert repeats["kiosk"] <= 0.02 * len(committed)
    assert repeats["kiosk"] + repeats["broker"] == duplicates
    assert set(arrivals) == set(committed)  # nothing arrived that was never committed
