"""Turn received messages into a committed batch: valid documents to their tables, the rest
to quarantine."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime

from county.config import IngestSection
from county.ingest.client import Received
from county.store import Batch, Quarantined, Store, StoreRejected
from kiosk.uplink.wire import (
    AlertRecord,
    EntryRecord,
    StateRecord,
    StatusRecord,
    WireError,
    parse_message,
    parse_topic,
)

logger = logging.getLogger(__name__)


def quarantined(
    msg: Received, kiosk: str | None, reason: str, detail: str, keep: int
) -> Quarantined:
    return Quarantined(msg.topic, kiosk, reason, detail, len(msg.payload), msg.payload[:keep])


def add(batch: Batch, prefix: str, msg: Received, cfg: IngestSection) -> None:
    """Put one message into ``batch``: as a record, or in quarantine with its reason."""
    ref = parse_topic(prefix, msg.topic)
    if ref is None:
        detail = "not {prefix}/kiosk/{id}/{entries|alerts|status|state}"
        batch.quarantine.append(
            quarantined(msg, None, "wire.unknown_topic", detail, cfg.quarantine_keep_bytes)
        )
        return
    try:
        record = parse_message(ref, msg.payload, cfg.max_payload)
    except WireError as exc:
        batch.quarantine.append(
            quarantined(msg, ref.kiosk, exc.reason, exc.detail, cfg.quarantine_keep_bytes)
        )
        return
    if isinstance(record, EntryRecord):
        batch.entries.append(record)
    elif isinstance(record, AlertRecord):
        batch.alerts.append(record)
    elif isinstance(record, StatusRecord):
        batch.statuses.append(record)
    elif isinstance(record, StateRecord):
        batch.states.append((ref.kiosk, record))


def build_batch(prefix: str, messages: Iterable[Received], cfg: IngestSection) -> Batch:
    batch = Batch()
    for msg in messages:
        add(batch, prefix, msg, cfg)
    return batch


def commit(store: Store, prefix: str, messages: list[Received], cfg: IngestSection) -> Batch:
    """Write ``messages`` in one transaction and return what was written.

    If the database refuses the batch's content (``StoreRejected``), the messages are written
    one by one and each one refused goes to quarantine as ``store.rejected``, so one bad row
    never blocks the feed. ``StoreError`` (the database is unreachable) propagates with nothing
    committed by this call.
    """
    batch = build_batch(prefix, messages, cfg)
    try:
        store.write(batch, datetime.now(UTC))
        return batch
    except StoreRejected as exc:
        logger.warning("batch refused (%s); writing its %d messages one by one", exc, len(messages))
    written = Batch()
    for msg in messages:
        single = build_batch(prefix, [msg], cfg)
        try:
            store.write(single, datetime.now(UTC))
        except StoreRejected as exc:
            ref = parse_topic(prefix, msg.topic)
            bad = quarantined(
                msg, ref.kiosk if ref else None, "store.rejected", str(exc)[:500],
                cfg.quarantine_keep_bytes,
            )  # fmt: skip
            store.write(Batch(quarantine=[bad]), datetime.now(UTC))
            single = Batch(quarantine=[bad])
        written.entries += single.entries
        written.alerts += single.alerts
        written.statuses += single.statuses
        written.states += single.states
        written.quarantine += single.quarantine
    return written
