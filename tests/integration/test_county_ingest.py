"""County ingest against a real mosquitto: quarantine of bad input, receipts, SIGTERM."""

from __future__ import annotations

import json
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from county.config import Config
from county.ingest.worker import Ingest
from county.store import open_store
from kiosk.uplink.localbroker import LocalBroker
from kiosk.uplink.wire import Receipt, parse_receipt
from tests.county_support import (
    county_cmd,
    county_config,
    county_dict,
    county_popen,
    entry,
    pg_database,
    sqlite_url,
)
from tests.helpers import write_config
from tests.integration.test_uplink import wait_until

pytestmark = pytest.mark.integration
TOPIC = "county/demo/kiosk/{}/{}"


@contextmanager
def ingesting(config: Config) -> Iterator[Ingest]:
    """One in-process ingest worker, connected and subscribed."""
    stop = threading.Event()
    worker = Ingest(config, open_store(config), stop)
    worker.start()
    try:
        assert wait_until(lambda: worker.stats().connected, 10)
        yield worker
    finally:
        stop.set()
        assert worker.join(20)


@contextmanager
def mqtt_client(port: int, client_id: str = "test-kiosk") -> Iterator[mqtt.Client]:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        yield client
    finally:
        client.disconnect()
        client.loop_stop()


def publish(client: mqtt.Client, kiosk: str, leaf: str, payload: bytes) -> None:
    client.publish(TOPIC.format(kiosk, leaf), payload, qos=1).wait_for_publish(5)


def retained_receipt(port: int, kiosk: str) -> Receipt | None:
    """The retained receipt on the kiosk's topic, as a fresh subscriber sees it."""
    got: list[bytes] = []
    with mqtt_client(port, f"receipt-reader-{kiosk}") as client:
        client.on_message = lambda _c, _u, msg: got.append(msg.payload)
        client.subscribe(TOPIC.format(kiosk, "receipt"), qos=1)
        wait_until(lambda: bool(got), 3)
    return parse_receipt(got[-1]) if got else None


def sqlite_rows(path: Path, sql: str) -> list[Any]:
    with sqlite3.connect(path) as db:
        return db.execute(sql).fetchall()


def _entry_doc(**changes: Any) -> bytes:
    doc = json.loads(entry("k-001", 999).entry_message())
    doc.update(changes)
    return json.dumps(doc).encode()


def test_bad_input_goes_to_quarantine_and_the_valid_stream_all_arrives(
    tmp_path: Path, broker: LocalBroker
) -> None:
    db = tmp_path / "county.sqlite"
    config = county_config(tmp_path, broker.port, sqlite_url(db))
    no_id = json.loads(_entry_doc())
    del no_id["id"]
    bad: list[tuple[str, str, bytes]] = [
        ("wire.bad_json", "entries", b'{"schema": 1, "type": "entry", "id": '),
        ("wire.unknown_schema", "entries", _entry_doc(schema=2)),
        ("wire.too_large", "entries", b"{" + b" " * 70_000 + b"}"),
        ("wire.kiosk_mismatch", "entries", entry("k-002", 1).entry_message()),
        ("wire.bad_field", "entries", json.dumps(no_id).encode()),
        ("wire.unknown_schema", "state", b'{"schema": 7}'),
    ]
    good = [entry("k-001", seq) for seq in range(1, 61)]
    with ingesting(config) as worker, mqtt_client(broker.port) as kiosk:
        wait_until(lambda: False, 0.3)  # the worker's SUBSCRIBE follows its CONNACK
        for i, e in enumerate(good):
            publish(kiosk, "k-001", "entries", e.entry_message())
            if i % 10 == 5:
                _reason, leaf, payload = bad[i // 10]
                publish(kiosk, "k-001", leaf, payload)
        assert wait_until(
            lambda: worker.stats().committed == 60 and worker.stats().quarantined == 6
        )
        assert worker.stats().acked == 66
    stored = {r[0] for r in sqlite_rows(db, "SELECT id FROM entries")}
    assert stored == {e.id for e in good}
    rows = sqlite_rows(db, "SELECT reason, topic, kiosk, size, length(payload) FROM quarantine")
    assert sorted(r[0] for r in rows) == sorted(b[0] for b in bad)
    large = next(r for r in rows if r[0] == "wire.too_large")
    assert large[1:] == ("county/demo/kiosk/k-001/entries", "k-001", 70_002, 4096)
    receipt = retained_receipt(broker.port, "k-001")
    assert receipt is not None and (receipt.confirmed_seq, receipt.missing) == (60, ())
    assert retained_receipt(broker.port, "k-002") is None  # a kiosk never heard of directly


def test_gaps_are_reported_in_the_receipt_and_county_kiosks(
    tmp_path: Path, broker: LocalBroker
) -> None:
    db = tmp_path / "county.sqlite"
    path = write_config(
        tmp_path / "county.toml", county_dict(tmp_path, broker.port, sqlite_url(db))
    )
    config = county_config(tmp_path, broker.port, sqlite_url(db))
    with ingesting(config) as worker, mqtt_client(broker.port) as kiosk:
        wait_until(lambda: False, 0.3)
        for seq in (1, 2, 3, 6, 7, 10):
            publish(kiosk, "k-001", "entries", entry("k-001", seq).entry_message())
        assert wait_until(lambda: worker.stats().committed == 6)
        assert wait_until(
            lambda: (
                (r := retained_receipt(broker.port, "k-001")) is not None
                and r.missing == ((4, 5), (8, 9))
            ),
            5,
        )
    listed = county_cmd("kiosks", "--config", str(path))
    assert listed.returncode == 0, listed.stderr
    (line,) = [json.loads(x) for x in listed.stdout.splitlines()]
    assert line["kiosk"] == "k-001" and line["site"] == "fanzhuang"
    assert (line["last_seq"], line["confirmed_seq"]) == (10, 3)
    assert line["missing"] == [[4, 5], [8, 9]]
    assert set(line) == {"kiosk", "site", "online", "last_seen", "last_seq", "confirmed_seq",
                         "missing", "backlog"}  # fmt: skip


def test_sigterm_finishes_the_batch_and_exits_0_and_nothing_unstored_is_acked(
    tmp_path: Path, broker: LocalBroker
) -> None:
    with pg_database() as url:
        path = write_config(tmp_path / "county.toml", county_dict(tmp_path, broker.port, url))
        config = county_config(tmp_path, broker.port, url)
        store = open_store(config)
        entries = [entry("k-001", seq) for seq in range(1, 2002)]
        worker = county_popen("ingest", "--config", str(path))
        try:
            with mqtt_client(broker.port) as kiosk:
                # the first entry again and again until the worker has subscribed and stored it
                assert wait_until(
                    lambda: (
                        publish(kiosk, "k-001", "entries", entries[0].entry_message())
                        or store.progress(["k-001"])[0].confirmed_seq == 1
                    ),
                    30,
                )

                def stream() -> None:
                    for e in entries[1:2000]:
                        kiosk.publish(TOPIC.format("k-001", "entries"), e.entry_message(), qos=1)
                        time.sleep(0.001)

                streaming = threading.Thread(target=stream)
                streaming.start()
                wait_until(lambda: store.progress(["k-001"])[0].last_seq > 300, 10)
                worker.send_signal(signal.SIGTERM)  # mid-stream
                _out, err = worker.communicate(timeout=30)
                streaming.join()
                assert worker.returncode == 0, err
                assert "ingest stopped" in err
                held = store.progress(["k-001"])[0].confirmed_seq
                assert held < 1999  # stopped mid-stream: the rest waits at the broker
                # what the stopped worker did not store stays with its session at the broker
                again = county_popen("ingest", "--config", str(path))
                try:
                    publish(kiosk, "k-001", "entries", entries[2000].entry_message())
                    assert wait_until(
                        lambda: store.progress(["k-001"])[0].confirmed_seq == 2001, 30
                    )
                finally:
                    again.send_signal(signal.SIGTERM)
                    _out, err = again.communicate(timeout=30)
                assert again.returncode == 0, err
            with psycopg.connect(url) as db:
                assert db.execute(
                    "SELECT COUNT(*), COUNT(DISTINCT id) FROM entries"
                ).fetchone() == (
                    2001,
                    2001,
                )
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.communicate()
            store.close()
