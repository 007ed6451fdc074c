"""The message schema both ends share: topics, the kiosk's documents and their validation.

The kiosk encodes entries and alerts with ``Entry.entry_message``/``alert_message`` and the
availability/state documents here; the county parses all four with ``parse_message``, which
turns anything that breaks the schema into a ``WireError`` with a stable reason code.
Standard library only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from kiosk import __version__
from kiosk.model import WIRE_SCHEMA, utc_iso
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
    "AlertRecord",
    "Backlog",
    "EntryRecord",
    "Message",
    "StateRecord",
    "StatusRecord",
    "TopicRef",
    "Topics",
    "WireError",
    "parse_message",
    "parse_topic",
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
