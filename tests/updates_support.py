"""Helpers for the county's lists: a kiosk's verifier, policy, updates worker and uplink on a
real broker (``door``), passes of a subject, and timing a condition."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from kiosk.codes import county
from kiosk.codes.keys import IssuerKey
from kiosk.codes.verifier import Verifier
from kiosk.config import Config
from kiosk.model import CodeStatus, Outcome, PassClaims, Temperature, TempState
from kiosk.policy import decide
from kiosk.uplink.inbound import Inbound
from kiosk.uplink.publisher import Publisher
from kiosk.uplink.updates import CountyUpdates

OK = Temperature(TempState.OK, value_c=36.5)


@dataclass
class Door:
    """The kiosk parts that matter here: verifier + policy, updates worker, uplink."""

    config: Config
    verifier: Verifier
    updates: CountyUpdates
    uplink: Publisher

    def outcome(self, text: str) -> tuple[Outcome, tuple[str, ...]]:
        now = datetime.now(UTC)
        decision = decide(self.verifier.verify(text, now), OK, self.config.policy, now)
        return decision.outcome, decision.reasons


@contextmanager
def door(config: Config) -> Iterator[Door]:
    stop = threading.Event()
    verifier = Verifier(config.verify, kiosk_id=config.kiosk.id)
    verifier.load()
    inbound = Inbound(CountyUpdates.topics(config))
    updates = CountyUpdates(config, verifier, inbound, stop).start()
    publisher = Publisher(config, stop, inbound=inbound)
    publisher.start()
    try:
        yield Door(config, verifier, updates, publisher)
    finally:
        stop.set()
        assert publisher.join(10) and updates.join(10)


def seconds_until(predicate: Callable[[], bool], timeout: float = 5.0) -> float | None:
    """Seconds until ``predicate`` held, or None after ``timeout``."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(0.02)
    return None


def pass_for(key: IssuerKey, subject: str, pass_id: str | None = None) -> str:
    """A green pass of ``subject`` issued yesterday."""
    now = datetime.now(UTC).replace(microsecond=0)
    claims = PassClaims(
        issuer=key.issuer, subject_key=subject, masked_name="张*中", status=CodeStatus.GREEN,
        status_updated_at=now - timedelta(hours=1), issued_at=now - timedelta(days=1),
        expires_at=now + timedelta(days=30), pass_id=pass_id,
    )  # fmt: skip
    return county.issue(claims, key)
