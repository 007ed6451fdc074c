"""The message schema both ends share: topics, the kiosk's documents, the county's receipt.

The kiosk encodes entries and alerts with ``Entry.entry_message``/``alert_message`` and the
availability/state documents here; the county parses all four with ``parse_message`` (which
turns anything that breaks the schema into a ``WireError`` with a stable reason code) and
encodes the receipt that the kiosk reads with ``parse_receipt``. Standard library only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from kiosk import __version__
from kiosk.model import WIRE_SCHEMA, parse_utc, utc_iso
from kiosk.uplink.wire_parse import (
    LEAVES,
    MAX_PAYLOAD,
    AlertRecord,
    EntryRecord,
    Message,
    StateRecord,
    StatusRecord,
    TopicRef,
    WireError,
    parse_message,
    parse_topic,
)

__all__ = [
    "LEAVES",
    "MAX_PAYLOAD",
    "RECEIPT_MAX_BYTES",
    "RECEIPT_MAX_RANGES",
    "AlertRecord",
    "Backlog",
    "EntryRecord",
    "Message",
    "Receipt",
    "ReceiptError",
    "SeqRange",
    "StateRecord",
    "StatusRecord",
    "TopicRef",
    "Topics",
    "WireError",
    "parse_message",
    "parse_receipt",
    "parse_topic",
    "receipt_payload",
    "state_payload",
    "status_payload",
]


class Backlog(Protocol):
    """What the state document reports (``kiosk.storage.OutboxStatus`` is one)."""

    @property
    def pending(self) -> int: ...
    @property
    def oldest_age_s(self) -> float | None: ...
    @property
    def parked(self) -> int: ...


@dataclass(frozen=True)
class CountyTopics:
    """``{prefix}/county/{county_id}/{revocations|trust}``: signed lists the county publishes
    (retained, QoS 1) and kiosks subscribe to; only the county may publish there."""

    prefix: str
    county_id: str

    @property
    def revocations(self) -> str:
        return f"{self.prefix}/county/{self.county_id}/revocations"

    @property
    def trust(self) -> str:
        return f"{self.prefix}/county/{self.county_id}/trust"


@dataclass(frozen=True)
class Topics:
    """``{prefix}/kiosk/{id}/{entries|alerts|status|state}``."""

    prefix: str
    kiosk_id: str

    def _topic(self, leaf: str) -> str:
        return f"{self.prefix}/kiosk/{self.kiosk_id}/{leaf}"

    @property
    def entries(self) -> str:
        return self._topic("entries")

    @property
    def alerts(self) -> str:
        return self._topic("alerts")

    @property
    def status(self) -> str:
        return self._topic("status")

    @property
    def state(self) -> str:
        return self._topic("state")

    @property
    def receipt(self) -> str:
        """Published by the county only, retained, QoS 1; the kiosk subscribes to its own."""
        return self._topic("receipt")


def _dump(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


def status_payload(online: bool, kiosk_id: str, site: str, now: datetime | None = None) -> bytes:
    """Availability document; retained. The offline variant is also the Last Will."""
    doc: dict[str, Any] = {
        "schema": WIRE_SCHEMA,
        "state": "online" if online else "offline",
        "kiosk": kiosk_id,
        "site": site,
    }
    if online:
        doc["version"] = __version__
        doc["since"] = utc_iso(now or datetime.now(UTC))
    return _dump(doc)


def state_payload(status: Backlog, now: datetime | None = None) -> bytes:
    """Retained state document: backlog size and the age of the oldest pending row."""
    return _dump(
        {
            "schema": WIRE_SCHEMA,
            "ts": utc_iso(now or datetime.now(UTC)),
            "backlog": status.pending,
            "oldest_pending_age_s": status.oldest_age_s,
            "parked": status.parked,
        }
    )


#: Bounds on a receipt a kiosk will read (a receipt is small: a few ranges, well under 1 KiB).
RECEIPT_MAX_BYTES = 64 * 1024
RECEIPT_MAX_RANGES = 1000
_RECEIPT_KEYS = frozenset({"schema", "type", "kiosk", "confirmed_seq", "missing", "ts"})

SeqRange = tuple[int, int]


class ReceiptError(ValueError):
    """A receipt document that does not follow schema 1; the message names the field."""


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_ranges(confirmed_seq: int, missing: tuple[SeqRange, ...]) -> None:
    if len(missing) > RECEIPT_MAX_RANGES:
        raise ReceiptError(f"missing: {len(missing)} ranges, more than {RECEIPT_MAX_RANGES}")
    floor = confirmed_seq
    for first, last in missing:
        if not (_is_int(first) and _is_int(last)):
            raise ReceiptError(f"missing: [{first!r}, {last!r}] is not a pair of integers")
        if first > last:
            raise ReceiptError(f"missing: [{first}, {last}] runs backwards")
        if first <= floor:
            raise ReceiptError(
                f"missing: [{first}, {last}] is not above confirmed_seq {confirmed_seq} "
                "and the ranges before it (ranges are ascending and do not overlap)"
            )
        floor = last


@dataclass(frozen=True)
class Receipt:
    """The county's word on one kiosk's feed: every ``seq`` up to ``confirmed_seq`` is stored,
    and the inclusive ``missing`` ranges above it are not (the county has seen later ones).

    Construction validates (``ReceiptError``): the ranges ascend, do not overlap and lie above
    ``confirmed_seq``; ``ts`` is timezone-aware.
    """

    kiosk: str
    confirmed_seq: int
    missing: tuple[SeqRange, ...]
    ts: datetime

    def __post_init__(self) -> None:
        if not isinstance(self.kiosk, str) or not self.kiosk:
            raise ReceiptError("kiosk: must be a non-empty string")
        if not _is_int(self.confirmed_seq) or self.confirmed_seq < 0:
            raise ReceiptError(f"confirmed_seq: {self.confirmed_seq!r} is not an integer >= 0")
        _check_ranges(self.confirmed_seq, self.missing)
        if self.ts.tzinfo is None:
            raise ReceiptError("ts: must carry a time zone")

    def missing_seqs(self) -> int:
        """How many sequence numbers the ranges cover."""
        return sum(last - first + 1 for first, last in self.missing)


def receipt_payload(
    kiosk: str, confirmed_seq: int, missing: list[SeqRange] | tuple[SeqRange, ...], now: datetime
) -> bytes:
    """The retained receipt document for ``{prefix}/kiosk/{kiosk}/receipt``.

    Raises ``ReceiptError`` when the values could not be parsed back.
    """
    receipt = Receipt(kiosk, confirmed_seq, tuple((a, b) for a, b in missing), now)
    return _dump(
        {
            "schema": WIRE_SCHEMA,
            "type": "receipt",
            "kiosk": receipt.kiosk,
            "confirmed_seq": receipt.confirmed_seq,
            "missing": [[a, b] for a, b in receipt.missing],
            "ts": utc_iso(receipt.ts),
        }
    )


def _no_constant(name: str) -> Any:
    raise ReceiptError(f"not JSON: {name} is not a number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    doc = dict(pairs)
    if len(doc) != len(pairs):
        raise ReceiptError("not JSON: a key appears twice")
    return doc


def parse_receipt(payload: bytes) -> Receipt:
    """Validate a receipt document strictly (schema 1, exactly its six keys).

    Raises ``ReceiptError`` whose message names what is wrong.
    """
    if len(payload) > RECEIPT_MAX_BYTES:
        raise ReceiptError(f"too large: {len(payload)} bytes, limit {RECEIPT_MAX_BYTES}")
    try:
        doc = json.loads(
            payload.decode("utf-8"), parse_constant=_no_constant, object_pairs_hook=_unique_keys
        )
    except UnicodeDecodeError as exc:
        raise ReceiptError(f"not UTF-8: {exc.reason}") from None
    except json.JSONDecodeError as exc:
        raise ReceiptError(f"not JSON: {exc.msg} at {exc.pos}") from None
    if not isinstance(doc, dict):
        raise ReceiptError("not a JSON object")
    keys = set(doc)
    if keys != _RECEIPT_KEYS:
        extra, absent = sorted(keys - _RECEIPT_KEYS), sorted(_RECEIPT_KEYS - keys)
        raise ReceiptError(f"keys: missing {absent}, unexpected {extra}")
    if not _is_int(doc["schema"]) or doc["schema"] != WIRE_SCHEMA:
        raise ReceiptError(f"schema: {doc['schema']!r} is not {WIRE_SCHEMA}")
    if doc["type"] != "receipt":
        raise ReceiptError(f"type: {doc['type']!r} is not 'receipt'")
    missing = doc["missing"]
    if not isinstance(missing, list) or not all(
        isinstance(r, list) and len(r) == 2 for r in missing
    ):
        raise ReceiptError("missing: must be a list of [first, last] pairs")
    if not isinstance(doc["ts"], str):
        raise ReceiptError("ts: must be an ISO 8601 string")
    try:
        ts = parse_utc(doc["ts"])
    except ValueError:
        raise ReceiptError(f"ts: {doc['ts']!r} is not ISO 8601") from None
    return Receipt(doc["kiosk"], doc["confirmed_seq"], tuple((a, b) for a, b in missing), ts)
