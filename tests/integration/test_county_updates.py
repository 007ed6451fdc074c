"""County lists over a real mosquitto: a revoked pass is denied within seconds, a kiosk that was
offline catches up from the retained list, and forged, replayed and truncated lists are refused
while the list in force stays."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kiosk.codes import county, revocation
from kiosk.codes.verifier import Verifier
from kiosk.config import Config
from kiosk.model import CodeStatus, Outcome, PassClaims, Temperature, TempState
from kiosk.policy import decide
from kiosk.uplink.inbound import Inbound
from kiosk.uplink.localbroker import LocalBroker
from kiosk.uplink.oneshot import publish_retained
from kiosk.uplink.publisher import Publisher
from kiosk.uplink.updates import CountyUpdates
from kiosk.uplink.wire import CountyTopics
from tests.codes_support import Issuer, make_issuer
from tests.helpers import make_config

pytestmark = pytest.mark.integration

CID = "330106"
SALT = b"county-salt-0001"
OK = Temperature(TempState.OK, value_c=36.5)


@dataclass
class Door:
    """The kiosk parts that matter here: verifier + policy, updates worker, uplink."""

    config: Config
    verifier: Verifier
    updates: CountyUpdates

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
        yield Door(config, verifier, updates)
    finally:
        stop.set()
        assert publisher.join(10) and updates.join(10)


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> float | None:
    """Seconds until ``predicate`` held, or None after ``timeout``."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(0.02)
    return None


class County:
    """The county's side, through the same library its command uses."""

    def __init__(self, key: Issuer, port: int) -> None:
        self.key, self.port = key, port
        self.revoked: dict[bytes, int] = {}
        self.topics = CountyTopics("county/demo", CID)
        self.last = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)

    def sign(self, at: datetime | None = None) -> bytes:
        if at is None:  # every list a second newer than the last: issue times must grow
            at = self.last = max(self.last + timedelta(seconds=1), datetime.now(UTC))
        return revocation.build(self.key.key, SALT, self.revoked, at)

    def revoke(self, subject: str) -> bytes:
        when = int(datetime.now(UTC).timestamp()) + 1
        self.revoked[revocation.subject_entry(SALT, CID, subject)] = when
        return self.publish(self.sign())

    def publish(self, payload: bytes) -> bytes:
        publish_retained("127.0.0.1", self.port, self.topics.revocations, payload,
                         client_id="county-test")  # fmt: skip
        return payload


def pass_for(key: Issuer, subject: str) -> str:
    now = datetime.now(UTC).replace(microsecond=0)
    claims = PassClaims(
        issuer=CID, subject_key=subject, masked_name="张*中", status=CodeStatus.GREEN,
        status_updated_at=now - timedelta(hours=1), issued_at=now - timedelta(days=1),
        expires_at=now + timedelta(days=30),
    )  # fmt: skip
    return county.issue(claims, key.key)


@pytest.fixture
def setup(tmp_path: Path, broker: LocalBroker) -> tuple[Config, County, Issuer, Issuer]:
    key = make_issuer(tmp_path / "county", CID)
    forger = make_issuer(tmp_path / "forger", CID)
    config = make_config(
        tmp_path / "state", broker.port,
        verify={"county_trust": [str(key.cert)], "updates": {"county_id": CID}},
        uplink={"reconnect_min_s": 1, "reconnect_max_s": 1},
    )  # fmt: skip
    return config, County(key, broker.port), key, forger


def test_connected_kiosk_denies_a_revoked_pass_within_5_s(
    setup: tuple[Config, County, Issuer, Issuer], report: Callable[[str], None]
) -> None:
    config, desk, key, _ = setup
    alice, bob = "subject-alice-0001", "subject-bob-000002"
    desk.publish(desk.sign())  # the county's (empty) list is there before the kiosk
    with door(config) as kiosk:
        assert wait_for(lambda: kiosk.updates.health().revocation_entries == 0)
        assert kiosk.outcome(pass_for(key, alice)) == (Outcome.PASS, ())
        desk.revoke(alice)
        started = time.monotonic()
        took = wait_for(lambda: kiosk.outcome(pass_for(key, alice))[0] == Outcome.DENY)
        assert took is not None, "revoked pass still not denied after 5 s"
        report(
            f"county updates: revoked pass denied {time.monotonic() - started:.3f} s after publish"
        )
        assert kiosk.outcome(pass_for(key, alice)) == (Outcome.DENY, ("code.revoked",))
        assert kiosk.outcome(pass_for(key, bob)) == (Outcome.PASS, ())
        health = kiosk.updates.health().to_dict()
        assert health["revocation_entries"] == 1 and health["revocations_stale"] is False


def test_offline_kiosk_denies_within_5_s_of_reconnecting(
    setup: tuple[Config, County, Issuer, Issuer], report: Callable[[str], None]
) -> None:
    config, desk, key, _ = setup
    alice = "subject-alice-0001"
    desk.publish(desk.sign())
    with door(config) as kiosk:
        assert wait_for(lambda: kiosk.updates.health().revocation_entries == 0)
    desk.revoke(alice)  # while the kiosk is off
    started = time.monotonic()
    with door(config) as kiosk:
        # the stored (older) list is in force at once; the retained one follows on connect
        assert kiosk.updates.health().revocation_entries == 0
        took = wait_for(lambda: kiosk.outcome(pass_for(key, alice))[0] == Outcome.DENY)
        assert took is not None, "not denied within 5 s of reconnecting"
        report(
            f"county updates: offline kiosk denied {time.monotonic() - started:.3f} s after start"
        )
    with door(config) as kiosk:  # and the newer list was stored: in force before any connect
        assert kiosk.outcome(pass_for(key, alice)) == (Outcome.DENY, ("code.revoked",))


def test_forged_replayed_and_truncated_lists_are_refused_and_logged(
    setup: tuple[Config, County, Issuer, Issuer], caplog: pytest.LogCaptureFixture
) -> None:
    config, desk, key, forger = setup
    alice = "subject-alice-0001"
    older = desk.sign()
    with door(config) as kiosk:
        current = desk.revoke(alice)
        assert wait_for(lambda: kiosk.updates.health().revocation_entries == 1)
        in_force = kiosk.updates.health().revocations_issued_at
        caplog.set_level(logging.WARNING, logger="kiosk.uplink.updates")
        forged = revocation.build(forger.key, SALT, {}, datetime.now(UTC))
        cases = [
            ("forged", forged, "list.unknown_key"),
            ("replayed", older, "list.older"),
            ("truncated", current[: len(current) // 2], "list.malformed"),
        ]  # fmt: skip
        for count, (name, payload, reason) in enumerate(cases, start=1):
            desk.publish(payload)
            assert wait_for(lambda n=count: kiosk.updates.health().refused == n), name
            health = kiosk.updates.health()
            assert health.last_refusal is not None and health.last_refusal["reason"] == reason
            assert health.revocations_issued_at == in_force, name
            assert kiosk.outcome(pass_for(key, alice)) == (Outcome.DENY, ("code.revoked",)), name
            assert any(reason in r.getMessage() for r in caplog.records), name
