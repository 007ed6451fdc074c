"""The county's receipts, kiosk side, against a real mosquitto: a small paho client stands in
for the county ingest (stores what arrives, publishes retained receipts)."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from kiosk.ledger import Ledger
from kiosk.model import Outcome
from kiosk.uplink.localbroker import LocalBroker
from kiosk.uplink.wire import SeqRange, Topics, receipt_payload
from tests.helpers import REPO, config_dict, kiosk_cmd, make_config, write_config
from tests.integration.test_uplink import Inbox, collecting, commit, publishing, wait_until

pytestmark = pytest.mark.integration

TOPICS = Topics("county/demo", "k-001")


def gaps(stored: set[int]) -> tuple[int, list[SeqRange]]:
    """The highest contiguous seq from 1 and the missing ranges above it."""
    confirmed = 0
    while confirmed + 1 in stored:
        confirmed += 1
    missing: list[SeqRange] = []
    for seq in range(confirmed + 1, max(stored, default=0) + 1):
        if seq in stored:
            continue
        if missing and missing[-1][1] == seq - 1:
            missing[-1] = (missing[-1][0], seq)
        else:
            missing.append((seq, seq))
    return confirmed, missing


class County:
    """Stands in for the county ingest: stores entry seqs as they arrive (dropping the first
    copy of each seq in ``lose_once``, as a broker that died before saving would) and, from its
    own thread, publishes a retained receipt whenever what it holds changes."""

    def __init__(self, port: int, lose_once: set[int] | None = None) -> None:
        self._lose = set(lose_once or ())
        self._lock = threading.Lock()
        self.arrivals: Counter[int] = Counter()
        self.stored: set[int] = set()
        self._stop = threading.Event()
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id="county-standin", protocol=mqtt.MQTTv5
        )
        self._client.on_message = self._on_message
        self._client.connect("127.0.0.1", port)
        self._client.subscribe(TOPICS.entries, qos=1)
        self._thread = threading.Thread(target=self._run, name="county-standin")

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        seq = json.loads(msg.payload)["seq"]
        with self._lock:
            self.arrivals[seq] += 1
            if seq in self._lose:
                self._lose.discard(seq)
            else:
                self.stored.add(seq)

    def _run(self) -> None:
        last: tuple[int, list[SeqRange]] | None = None
        while not self._stop.wait(0.1):
            with self._lock:
                now = gaps(self.stored)
            if self.stored and now != last:
                payload = receipt_payload("k-001", *now, datetime.now(UTC))
                self._client.publish(TOPICS.receipt, payload, qos=1, retain=True)
                last = now

    def __enter__(self) -> County:
        self._client.loop_start()
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._client.disconnect()
        self._client.loop_stop()


@contextmanager
def county_publisher(port: int) -> Iterator[mqtt.Client]:
    """A bare client that publishes hand-written receipts (retained, QoS 1)."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="county-hand", protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        yield client
    finally:
        client.disconnect()
        client.loop_stop()


def send(client: mqtt.Client, payload: bytes, topic: str = TOPICS.receipt) -> None:
    client.publish(topic, payload, qos=1, retain=True).wait_for_publish(5)


def receipt(confirmed: int, missing: list[SeqRange], kiosk: str = "k-001", age_s: int = 0) -> bytes:
    return receipt_payload(kiosk, confirmed, missing, datetime.now(UTC) - timedelta(seconds=age_s))


def test_receipt_is_kept_and_heals_what_the_county_misses(
    tmp_path: Path, broker: LocalBroker
) -> None:
    config = make_config(
        tmp_path / "state", broker.port, uplink={"receipts": True, "resend_after_s": 600}
    )
    with (
        collecting(broker.port, "county/demo/kiosk/+/+") as collector,
        Ledger(config.ledger_path) as ledger,
    ):
        inbox = Inbox(collector)
        commit(ledger, 4)
        red = commit(ledger, 1, Outcome.DENY, ("code.red",))[0]  # seq 5 raises an alert
        commit(ledger, 15)
        with publishing(config), county_publisher(broker.port) as county:
            assert wait_until(lambda: len(inbox.on("entries")) == 20)
            assert wait_until(lambda: ledger.outbox_status().pending == 0)
            first = {d["seq"]: d for d in inbox.on("entries")}
            first_alert = inbox.on("alerts")
            assert [a["entry_id"] for a in first_alert] == [red.id]

            # ignored: malformed, another kiosk's document on this topic, another kiosk's topic
            send(county, b'{"schema": 1, "type": "receipt"}')
            send(county, receipt(20, [], kiosk="k-002"))
            send(county, receipt(20, []), topic=Topics("county/demo", "k-002").receipt)
            # then a receipt that lists 5-6 and 9 as missing; it is the one kept
            send(county, receipt(3, [(5, 6), (9, 9)]))
            assert wait_until(lambda: ledger.outbox_status().confirmed_seq == 3)

            def arrived(leaf: str) -> Counter[int]:
                return Counter(d["seq"] for d in inbox.on(leaf))

            assert wait_until(lambda: arrived("entries") == Counter({**dict.fromkeys(
                range(1, 21), 1), 5: 2, 6: 2, 9: 2}))  # fmt: skip
            assert wait_until(lambda: arrived("alerts") == Counter({5: 2}))
            again = [d for d in inbox.on("entries")[20:]]
            assert {d["seq"]: d for d in again} == {s: first[s] for s in (5, 6, 9)}
            assert inbox.on("alerts")[1] == first_alert[0]  # the whole document, again

            # the same gap again within resend_after_s: no second re-send (no storm); an older
            # receipt is ignored; a newer one is kept
            send(county, receipt(4, [(5, 6), (9, 9)]))
            send(county, receipt(2, [(3, 20)], age_s=3600))
            send(county, receipt(4, [(5, 6), (9, 9)]))
            assert wait_until(lambda: ledger.outbox_status().confirmed_seq == 4)
            assert wait_until(lambda: ledger.outbox_status().pending == 0)
            assert arrived("entries")[5] == 2 and arrived("alerts")[5] == 2
            assert sum(arrived("entries").values()) == 23

    path = write_config(tmp_path / "kiosk.toml", config_dict(tmp_path / "state", broker.port))
    status = json.loads(kiosk_cmd("outbox", "status", "--config", str(path)).stdout)
    assert status == {"pending": 0, "oldest_age_s": None, "parked": 0, "confirmed_seq": 4}

    # retention purges only what the county confirmed (when receipts are on)
    later = datetime.now(UTC) + timedelta(days=30)
    with Ledger(config.ledger_path) as ledger:
        assert ledger.purge(21, later, confirmed_only=True) == 4
        assert [e.seq for e, _ in ledger.entries()] == list(range(5, 21))
        assert ledger.purge(21, later) == 16


def _drain_config(tmp_path: Path, port: int, receipts: bool) -> Path:
    uplink = {"receipts": receipts, "resend_after_s": 1.0}
    values = config_dict(tmp_path / "state", port, uplink=uplink)
    return write_config(tmp_path / "kiosk.toml", values)


def test_drain_waits_for_the_receipt_and_resends_what_was_lost(
    tmp_path: Path, broker: LocalBroker
) -> None:
    config = _drain_config(tmp_path, broker.port, receipts=True)
    with Ledger(tmp_path / "state" / "ledger.sqlite") as ledger:
        commit(ledger, 30)
    # 7-9 show as a gap in the county's receipt; 30, the last, cannot: the kiosk re-sends the
    # tail its kept receipt does not cover once the uplink has been idle resend_after_s
    with County(broker.port, lose_once={7, 8, 9, 30}) as county:
        result = kiosk_cmd("uplink", "drain", "--config", str(config), "--timeout", "30")
        assert result.returncode == 0, result.stderr
        assert county.stored == set(range(1, 31))
        assert all(county.arrivals[s] == 2 for s in (7, 8, 9, 30))
    outbox = json.loads(result.stdout)["outbox"]
    assert outbox == {"pending": 0, "oldest_age_s": None, "parked": 0, "confirmed_seq": 30}


def test_drain_without_a_confirming_receipt_times_out(tmp_path: Path, broker: LocalBroker) -> None:
    config = _drain_config(tmp_path, broker.port, receipts=True)
    with Ledger(tmp_path / "state" / "ledger.sqlite") as ledger:
        commit(ledger, 5)
    with county_publisher(broker.port) as county:
        send(county, receipt(3, []))  # retained: the county has not stored 4 and 5 yet
        result = kiosk_cmd("uplink", "drain", "--config", str(config), "--timeout", "2")
    assert result.returncode == 1
    assert "2 entries not yet confirmed by the county's receipt (confirmed up to #3)" in (
        result.stderr
    )
    assert json.loads(result.stdout)["outbox"]["pending"] == 0  # all published, not confirmed


def test_without_receipts_the_kiosk_ignores_them(tmp_path: Path, broker: LocalBroker) -> None:
    config = _drain_config(tmp_path, broker.port, receipts=False)
    with Ledger(tmp_path / "state" / "ledger.sqlite") as ledger:
        commit(ledger, 5)
    with county_publisher(broker.port) as county:
        send(county, receipt(3, [(4, 4)]))
        result = kiosk_cmd("uplink", "drain", "--config", str(config), "--timeout", "10")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["outbox"]["confirmed_seq"] is None


def documented_acl() -> str:
    """The ACL block of docs/mqtt.md, as a county would copy it."""
    text = (REPO / "docs" / "mqtt.md").read_text(encoding="utf-8")
    block = text.split("# /etc/mosquitto/acl", 1)[1].split("```", 1)[0]
    return "# /etc/mosquitto/acl" + block


def test_documented_acl_lets_only_the_county_publish_receipts(tmp_path: Path) -> None:
    users = {"k-001": "kiosk-pw", "county-ingest": "county-pw"}
    with LocalBroker(tmp_path / "broker", acl=documented_acl(), users=users) as broker:
        config = make_config(
            tmp_path / "state",
            broker.port,
            uplink={"receipts": True, "username": "k-001", "password": "kiosk-pw"},
        )
        with Ledger(config.ledger_path) as ledger:
            commit(ledger, 3)
            with publishing(config):
                assert wait_until(lambda: ledger.outbox_status().pending == 0)
                forged: list[int] = []
                kiosk = mqtt.Client(
                    CallbackAPIVersion.VERSION2, client_id="k-001-forger", protocol=mqtt.MQTTv5
                )
                kiosk.username_pw_set("k-001", "kiosk-pw")
                kiosk.on_publish = lambda _c, _u, _m, rc, _p: forged.append(rc.value)
                kiosk.connect("127.0.0.1", broker.port)
                kiosk.loop_start()
                kiosk.publish(TOPICS.receipt, receipt(3, []), qos=1, retain=True)
                assert wait_until(lambda: forged == [0x87])  # Not authorized
                kiosk.disconnect()
                kiosk.loop_stop()
                assert ledger.outbox_status().confirmed_seq is None

                county = mqtt.Client(
                    CallbackAPIVersion.VERSION2, client_id="county-ingest", protocol=mqtt.MQTTv5
                )
                county.username_pw_set("county-ingest", "county-pw")
                county.connect("127.0.0.1", broker.port)
                county.loop_start()
                send(county, receipt(3, []))
                assert wait_until(lambda: ledger.outbox_status().confirmed_seq == 3)
                county.disconnect()
                county.loop_stop()
