"""The broker acknowledges entries and dies before saving them: receipts heal the gap, and
without receipts the entries are lost to the county (though safe in the kiosk's ledger)."""

from __future__ import annotations

from pathlib import Path

import pytest

from county.store import open_store
from kiosk.config import Config
from kiosk.ledger import Ledger
from kiosk.model import Entry, Outcome
from kiosk.uplink.localbroker import LocalBroker
from tests.county_support import county_config, sqlite_url
from tests.helpers import make_config
from tests.integration.test_county_ingest import ingesting
from tests.integration.test_uplink import publishing, wait_until

pytestmark = pytest.mark.integration


def _kiosk(tmp_path: Path, port: int, kiosk: str, receipts: bool) -> Config:
    return make_config(
        tmp_path / kiosk, port,
        kiosk={"id": kiosk},
        uplink={"reconnect_min_s": 1, "reconnect_max_s": 1, "receipts": receipts,
                "resend_after_s": 1},
    )  # fmt: skip


def _commit(config: Config, n: int) -> list[Entry]:
    with Ledger(config.ledger_path) as ledger:
        return [
            ledger.commit(Entry.new(config.kiosk.id, "fanzhuang", Outcome.PASS)) for _ in range(n)
        ]


def _pending(config: Config) -> int:
    with Ledger(config.ledger_path) as ledger:
        return ledger.outbox_status().pending


def test_receipts_heal_what_a_broker_lost_and_without_them_it_stays_lost(tmp_path: Path) -> None:
    # mosquitto saves only on a clean stop: a SIGKILL loses everything since
    broker = LocalBroker(tmp_path / "broker", autosave_s=3600).start()
    county = county_config(tmp_path, broker.port, sqlite_url(tmp_path / "county.sqlite"))
    store = open_store(county)
    healed = _kiosk(tmp_path, broker.port, "k-rcpt", receipts=True)
    plain = _kiosk(tmp_path, broker.port, "k-plain", receipts=False)
    kiosks = (healed, plain)
    try:
        with publishing(healed), publishing(plain):
            with ingesting(county) as worker:
                for k in kiosks:
                    _commit(k, 5)
                assert wait_until(lambda: worker.stats().committed == 10)
            # ingest stopped: its persistent session queues the next entries at the broker
            lost = {k.kiosk.id: _commit(k, 20) for k in kiosks}
            assert wait_until(lambda: all(_pending(k) == 0 for k in kiosks))  # PUBACKed
            broker.kill()  # before any save
            broker.start()
            with ingesting(county) as worker:
                for k in kiosks:
                    _commit(k, 5)  # later entries reveal the gap (seq 6-25)

                def progress(kiosk: str) -> tuple[int, tuple[tuple[int, int], ...]]:
                    p = store.progress([kiosk])[0]
                    return p.confirmed_seq, p.missing

                assert wait_until(lambda: progress("k-rcpt") == (30, ()), 20)
                assert wait_until(lambda: progress("k-plain") == (5, ((6, 25),)), 5)
        store.open()
        held = {r.kiosk: r for r in store.kiosks()}
        assert held["k-rcpt"].missing == () and held["k-rcpt"].confirmed_seq == 30
        # without receipts: delivered as far as the kiosk knows (its outbox is empty), yet the
        # county never got them
        assert held["k-plain"].missing == ((6, 25),)
        assert _pending(plain) == 0
        assert len(lost["k-plain"]) == 20 and all(6 <= e.seq <= 25 for e in lost["k-plain"])
    finally:
        store.close()
        broker.stop()
