"""County lists over a real mosquitto: a revoked pass is denied within seconds, a kiosk that was
offline catches up from the retained list, and forged, replayed and truncated lists are refused
while the list in force stays."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kiosk.codes import revocation
from kiosk.config import Config
from kiosk.model import Outcome
from kiosk.uplink.localbroker import LocalBroker
from kiosk.uplink.oneshot import publish_retained
from kiosk.uplink.wire import CountyTopics, Topics, receipt_payload
from tests.codes_support import Issuer, make_issuer
from tests.helpers import make_config
from tests.updates_support import door, pass_for, seconds_until

pytestmark = pytest.mark.integration

CID = "330106"
SALT = b"county-salt-0001"


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
        assert seconds_until(lambda: kiosk.updates.health().revocation_entries == 0)
        assert kiosk.outcome(pass_for(key.key, alice)) == (Outcome.PASS, ())
        desk.revoke(alice)
        started = time.monotonic()
        took = seconds_until(lambda: kiosk.outcome(pass_for(key.key, alice))[0] == Outcome.DENY)
        assert took is not None, "revoked pass still not denied after 5 s"
        report(
            f"county updates: revoked pass denied {time.monotonic() - started:.3f} s after publish"
        )
        assert kiosk.outcome(pass_for(key.key, alice)) == (Outcome.DENY, ("code.revoked",))
        assert kiosk.outcome(pass_for(key.key, bob)) == (Outcome.PASS, ())
        health = kiosk.updates.health().to_dict()
        assert health["revocation_entries"] == 1 and health["revocations_stale"] is False


def test_offline_kiosk_denies_within_5_s_of_reconnecting(
    setup: tuple[Config, County, Issuer, Issuer], report: Callable[[str], None]
) -> None:
    config, desk, key, _ = setup
    alice = "subject-alice-0001"
    desk.publish(desk.sign())
    with door(config) as kiosk:
        assert seconds_until(lambda: kiosk.updates.health().revocation_entries == 0)
    desk.revoke(alice)  # while the kiosk is off
    started = time.monotonic()
    with door(config) as kiosk:
        # the stored (older) list is in force at once; the retained one follows on connect
        assert kiosk.updates.health().revocation_entries == 0
        took = seconds_until(lambda: kiosk.outcome(pass_for(key.key, alice))[0] == Outcome.DENY)
        assert took is not None, "not denied within 5 s of reconnecting"
        report(
            f"county updates: offline kiosk denied {time.monotonic() - started:.3f} s after start"
        )
    with door(config) as kiosk:  # and the newer list was stored: in force before any connect
        assert kiosk.outcome(pass_for(key.key, alice)) == (Outcome.DENY, ("code.revoked",))


def test_disconnected_kiosk_resubscribes_and_denies_within_5_s_of_reconnecting(
    setup: tuple[Config, County, Issuer, Issuer],
    broker: LocalBroker,
    report: Callable[[str], None],
) -> None:
    """The link drops while the kiosk runs; the county revokes before it is back."""
    config, desk, key, _ = setup
    alice = pass_for(key.key, "subject-alice-0001")
    desk.publish(desk.sign())
    with door(config) as kiosk:
        assert seconds_until(lambda: kiosk.updates.health().revocation_entries == 0)
        broker.kill()
        assert seconds_until(lambda: not kiosk.uplink.health().connected)
        assert kiosk.outcome(alice) == (Outcome.PASS, ())
        broker.start()
        back = time.monotonic()
        desk.revoke("subject-alice-0001")  # usually before the kiosk's reconnect (1 s delay)
        took = seconds_until(lambda: kiosk.outcome(alice)[0] == Outcome.DENY)
        assert took is not None, "not denied within 5 s of the link coming back"
        assert kiosk.uplink.health().connected
        report(f"county updates: cut-off kiosk denied {time.monotonic() - back:.2f} s "
               "after the broker came back (reconnect delay 1 s included)")  # fmt: skip


def test_forged_replayed_and_truncated_lists_are_refused_and_logged(
    setup: tuple[Config, County, Issuer, Issuer], caplog: pytest.LogCaptureFixture
) -> None:
    config, desk, key, forger = setup
    alice = "subject-alice-0001"
    older = desk.sign()
    with door(config) as kiosk:
        current = desk.revoke(alice)
        assert seconds_until(lambda: kiosk.updates.health().revocation_entries == 1)
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
            assert seconds_until(lambda n=count: kiosk.updates.health().refused == n), name
            health = kiosk.updates.health()
            assert health.last_refusal is not None and health.last_refusal["reason"] == reason
            assert health.revocations_issued_at == in_force, name
            assert kiosk.outcome(pass_for(key.key, alice)) == (Outcome.DENY, ("code.revoked",)), (
                name
            )
            assert any(reason in r.getMessage() for r in caplog.records), name


def test_lists_and_receipts_share_the_uplink_connection(
    tmp_path: Path, broker: LocalBroker, caplog: pytest.LogCaptureFixture
) -> None:
    """The county's lists go to the updates worker, the kiosk's receipt to the publisher."""
    key = make_issuer(tmp_path / "county", CID)
    config = make_config(
        tmp_path / "state", broker.port,
        verify={"county_trust": [str(key.cert)], "updates": {"county_id": CID}},
        uplink={"receipts": True},
    )  # fmt: skip
    desk = County(key, broker.port)
    desk.publish(desk.sign())
    receipt = receipt_payload("k-001", 0, [], datetime.now(UTC))
    publish_retained("127.0.0.1", broker.port, Topics("county/demo", "k-001").receipt, receipt,
                     client_id="county-ingest-test")  # fmt: skip
    caplog.set_level(logging.INFO)
    with door(config) as kiosk:
        assert seconds_until(lambda: kiosk.updates.health().revocation_entries == 0)

        def receipt_kept() -> bool:
            with sqlite3.connect(config.ledger_path) as db:
                return db.execute("SELECT kiosk FROM receipts").fetchall() == [("k-001",)]

        assert seconds_until(receipt_kept)
        assert kiosk.updates.health().subscription_refused is None
    assert not [r for r in caplog.records if "ignored a message" in r.getMessage()]
