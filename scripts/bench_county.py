#!/usr/bin/env python3
"""County ingest benchmark: (a) end-to-end rate vs a raw paho shared-subscription subscriber,
(b) the store's batch insert vs a raw COPY, (c) publish -> committed latency for 200 kiosks at
1 entry/s, (d) the largest fleet one machine holds at 20 entries/min per kiosk.

Usage: .venv/bin/python scripts/bench_county.py [--messages N] [--latency-s S] [--no-write]
Needs mosquitto and the local PostgreSQL (127.0.0.1:5432, user postgres; scripts/bootstrap.sh
dev sets it up). Writes the `## County ingest` section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchlib import write_section

from county.config import Config, parse
from county.ingest.worker import Ingest
from county.store import Batch
from county.store.postgres import PostgresStore
from county.store.rows import ENTRY_COLUMNS, entry_values
from kiosk.synthetic import synthetic_entry
from kiosk.uplink.localbroker import LocalBroker
from kiosk.uplink.wire import TopicRef, parse_message

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PREFIX = "county/demo"
FLEET_HEADROOM = 0.5  # plan for half of the measured capacity


@contextmanager
def database() -> Iterator[str]:
    name = f"county_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield ADMIN.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fleet_messages(kiosks: int, per_kiosk: int) -> list[list[tuple[str, bytes]]]:
    """Per kiosk, its entries in seq order as (topic, payload)."""
    rng = random.Random(2026)
    out = []
    for k in range(1, kiosks + 1):
        kiosk = f"k-{k:04d}"
        topic = f"{PREFIX}/kiosk/{kiosk}/entries"
        out.append(
            [
                (topic, synthetic_entry(kiosk, "bench", rng).with_seq(s).entry_message())
                for s in range(1, per_kiosk + 1)
            ]
        )
    return out


def _client(port: int, client_id: str, **kwargs: Any) -> mqtt.Client:
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5, **kwargs
    )
    client.max_inflight_messages_set(100)
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def publish_fleet(port: int, fleet: list[list[tuple[str, bytes]]]) -> float:
    """Ten publisher clients (one per group of kiosks) at QoS 1, as fast as the broker takes
    them; returns the seconds until the last PUBACK."""
    groups = 10
    started = time.perf_counter()

    def run(group: int) -> None:
        client = _client(port, f"bench-kiosk-{group}")
        infos = []
        for messages in fleet[group::groups]:
            for topic, payload in messages:
                infos.append(client.publish(topic, payload, qos=1))
        for info in infos:
            info.wait_for_publish(120)
        client.disconnect()
        client.loop_stop()

    threads = [threading.Thread(target=run, args=(g,)) for g in range(groups)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started


def raw_subscriber_rate(broker: LocalBroker, fleet: list[list[tuple[str, bytes]]]) -> float:
    """Baseline: a plain paho QoS 1 shared-subscription subscriber (automatic acks)."""
    total = sum(len(m) for m in fleet)
    received = 0
    done = threading.Event()
    subscribed = threading.Event()

    def on_message(*_a: object) -> None:
        nonlocal received
        received += 1
        if received == total:
            done.set()

    sub = _client(broker.port, f"raw-sub-{uuid.uuid4().hex[:6]}")
    sub.on_message = on_message
    sub.on_subscribe = lambda *_a: subscribed.set()
    sub.subscribe(f"$share/raw/{PREFIX}/kiosk/+/entries", qos=1)
    subscribed.wait(10)
    started = time.perf_counter()
    publish_fleet(broker.port, fleet)
    done.wait(300)
    elapsed = time.perf_counter() - started
    sub.disconnect()
    sub.loop_stop()
    return received / elapsed


def county_config(port: int, url: str, client_id: str) -> Config:
    """One worker in a share group of its own (a persistent session left in a group by an
    earlier phase would still get its share of the messages)."""
    return parse(
        {
            "broker": {
                "port": port,
                "client_id": client_id,
                "share_group": client_id,
                "topic_prefix": PREFIX,
            },
            "database": {"url": url},
        }
    )


def ingest_rate(broker: LocalBroker, url: str, fleet: list[list[tuple[str, bytes]]]) -> float:
    """Entries/s from the first publish until the last row is committed (and acked)."""
    total = sum(len(m) for m in fleet)
    config = county_config(broker.port, url, f"bench-ingest-{uuid.uuid4().hex[:6]}")
    stop = threading.Event()
    store = PostgresStore(url, None, 21)
    store.open()
    worker = Ingest(config, store, stop)
    worker.start()
    while not worker.stats().subscribed:
        time.sleep(0.01)
    started = time.perf_counter()
    publish_fleet(broker.port, fleet)
    while worker.stats().acked < total:
        time.sleep(0.005)
    elapsed = time.perf_counter() - started
    stop.set()
    worker.join(30)
    return total / elapsed


def store_vs_copy(
    url: str, fleet: list[list[tuple[str, bytes]]], batch: int = 500
) -> tuple[float, float]:
    """(store rows/s, raw COPY rows/s) for the same rows into the same table, batch by batch."""
    records = []
    for row in zip(*fleet, strict=True):  # kiosks interleave as they do live, each in seq order
        for topic, payload in row:
            kiosk = topic.split("/")[-2]
            records.append(parse_message(TopicRef(kiosk, "entries"), payload))
    batches = [records[i : i + batch] for i in range(0, len(records), batch)]
    now = datetime.now(UTC)
    store = PostgresStore(url, None, 21)
    store.open()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE entries, seq_runs, kiosks")
    started = time.perf_counter()
    for rows in batches:
        store.write(Batch(entries=list(rows)), now)
    store_rate = len(records) / (time.perf_counter() - started)
    store.close()
    columns = ", ".join(ENTRY_COLUMNS)
    with psycopg.connect(url) as conn:
        conn.execute("TRUNCATE entries, seq_runs, kiosks")
        conn.commit()
        started = time.perf_counter()
        for rows in batches:
            with conn.cursor().copy(f"COPY entries ({columns}) FROM STDIN") as copy:
                for r in rows:
                    copy.write_row(entry_values(r, now))
            conn.commit()
        copy_rate = len(records) / (time.perf_counter() - started)
    return store_rate, copy_rate


class TimedStore(PostgresStore):
    """Records when each entry's batch finished committing."""

    committed_at: dict[str, float]

    def write(self, batch: Batch, now: datetime) -> None:
        super().write(batch, now)
        t = time.time()
        for e in batch.entries:
            self.committed_at.setdefault(e.id, t)


def latency(
    broker: LocalBroker, url: str, kiosks: int, seconds: float
) -> tuple[float, float, float]:
    """(ingest p95 ms, ingest p50 ms, raw subscriber p95 ms): ``kiosks`` kiosks at 1 entry/s,
    publish -> committed, and publish -> received by a raw subscriber in the same run."""
    rng = random.Random(7)
    store = TimedStore(url, None, 21)
    store.committed_at = {}
    store.open()
    stop = threading.Event()
    worker = Ingest(county_config(broker.port, url, "bench-latency"), store, stop)
    worker.start()
    raw_seen: dict[str, float] = {}
    raw = _client(broker.port, "bench-raw-latency")
    raw.on_message = lambda _c, _u, m: raw_seen.setdefault(json.loads(m.payload)["id"], time.time())
    raw.subscribe(f"$share/rawlat/{PREFIX}/kiosk/+/entries", qos=1)
    while not worker.stats().subscribed:
        time.sleep(0.01)
    time.sleep(0.3)  # the raw subscriber's SUBACK
    pub = _client(broker.port, "bench-fleet-latency")
    sent: dict[str, float] = {}
    start = time.time()
    seq = 0
    while time.time() - start < seconds:
        seq += 1
        for k in range(kiosks):  # each kiosk once per second, spread over the second
            due = start + (seq - 1) + k / kiosks
            time.sleep(max(0.0, due - time.time()))
            kiosk = f"k-{k:04d}"
            entry = synthetic_entry(kiosk, "bench", rng).with_seq(seq)
            payload = entry.entry_message()
            sent[entry.id] = time.time()
            pub.publish(f"{PREFIX}/kiosk/{kiosk}/entries", payload, qos=1)
    deadline = time.time() + 10
    while len(store.committed_at) < len(sent) and time.time() < deadline:
        time.sleep(0.05)
    stop.set()
    worker.join(30)
    pub.disconnect()
    pub.loop_stop()
    raw.disconnect()
    raw.loop_stop()
    ingest = [
        (store.committed_at[i] - t) * 1000 for i, t in sent.items() if i in store.committed_at
    ]
    base = [(raw_seen[i] - t) * 1000 for i, t in sent.items() if i in raw_seen]
    if len(ingest) < len(sent):
        raise RuntimeError(f"only {len(ingest)} of {len(sent)} entries committed")
    q = statistics.quantiles
    return q(ingest, n=20)[18], statistics.median(ingest), q(base, n=20)[18]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000, help="entries for (a) and (b)")
    parser.add_argument("--latency-s", type=float, default=15.0, help="duration of (c)")
    parser.add_argument("--no-write", action="store_true", help="print, do not write the docs")
    args = parser.parse_args()
    fleet = fleet_messages(10, args.messages // 10)
    with (
        tempfile.TemporaryDirectory() as tmp,
        LocalBroker(Path(tmp) / "broker") as broker,
        database() as url,
    ):
        raw_rate = raw_subscriber_rate(broker, fleet)
        county_rate = ingest_rate(broker, url, fleet)
        store_rate, copy_rate = store_vs_copy(url, fleet)
        p95, p50, raw_p95 = latency(broker, url, 200, args.latency_s)
    fleet_size = int(county_rate * 60 / 20 * FLEET_HEADROOM)
    lines = [
        f"(a) end to end, {args.messages} entries from 10 simulated kiosk clients -> committed "
        f"rows (PostgreSQL, dedup, manual acks after commit): **{county_rate:,.0f}/s**, "
        f"**{county_rate / raw_rate:.2f}x** a raw paho QoS 1 shared-subscription subscriber "
        f"on the same broker ({raw_rate:,.0f}/s); target >= 0.5x",
        f"(b) store batch insert (COPY to staging + INSERT ... ON CONFLICT DO NOTHING, runs, "
        f"kiosk locks; 500-row batches): **{store_rate:,.0f} rows/s**, "
        f"**{store_rate / copy_rate:.2f}x** a raw COPY of the same rows into the same table "
        f"({copy_rate:,.0f} rows/s); target >= 0.3x",
        f"(c) publish -> committed with 200 simulated kiosks at 1 entry/s each for "
        f"{args.latency_s:.0f} s: **p95 {p95:.0f} ms** (p50 {p50:.0f} ms); a raw subscriber's "
        f"publish -> received p95 in the same run: {raw_p95:.0f} ms; target p95 <= 500 ms",
        f"(d) largest fleet for one machine at 20 entries/min per kiosk: "
        f"{county_rate:,.0f}/s x 60 / 20 x {FLEET_HEADROOM} headroom = **{fleet_size:,} kiosks** "
        "(broker, ingest and PostgreSQL on the same 2 cores)",
    ]
    body = "\n".join(f"- {line}" for line in lines) + (
        "\n\nRun: `.venv/bin/python scripts/bench_county.py`. Ratios compare against baselines "
        "measured in the same run on the same broker and database."
    )
    print(body)
    if not args.no_write:
        write_section("County ingest", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
