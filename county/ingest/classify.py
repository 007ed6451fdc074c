"""Turn received messages into a batch: valid documents to their tables, the rest to quarantine."""

from __future__ import annotations

from collections.abc import Iterable

from county.config import IngestSection
from county.ingest.client import Received
from county.store import Batch, Quarantined
from kiosk.uplink.wire import (
    AlertRecord,
    EntryRecord,
    StateRecord,
    StatusRecord,
    WireError,
    parse_message,
    parse_topic,
)


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
