"""The updates worker on its own, on a real ledger file: what it does with each message, what
survives a restart, and a corrupted stored list (no broker needed: messages are handed in)."""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kiosk.codes import revocation, trustlist
from kiosk.codes.trustlist import load_signer
from kiosk.codes.verifier import Verifier
from kiosk.config import Config
from kiosk.model import utc_iso
from kiosk.uplink.inbound import Inbound, Received
from kiosk.uplink.updates import CountyUpdates
from kiosk.uplink.wire import CountyTopics
from tests.codes_support import make_issuer
from tests.helpers import config_dict, kiosk_cmd, make_config, write_config
from tests.updates_support import pass_for

CID = "330106"
TOPICS = CountyTopics("county/demo", CID)


def worker(config: Config, stop: threading.Event | None = None) -> CountyUpdates:
    """A worker whose thread ends at once when ``stop`` is already set."""
    verifier = Verifier(config.verify)
    verifier.load()
    inbound = Inbound(CountyUpdates.topics(config))
    return CountyUpdates(config, verifier, inbound, stop or threading.Event())


def restarted(config: Config) -> CountyUpdates:
    stop = threading.Event()
    stop.set()
    updates = worker(config, stop).start()
    assert updates.join(5)
    return updates


def test_messages_restart_and_a_damaged_stored_list(tmp_path: Path) -> None:
    key, signer = make_issuer(tmp_path / "k", CID), make_issuer(tmp_path / "s", "trust-330106")
    config = make_config(
        tmp_path / "state", 1883,
        verify={"county_trust": [str(key.cert)],
                "updates": {"county_id": CID, "trust_signers": [str(signer.cert)]}},
    )  # fmt: skip
    assert CountyUpdates.topics(config) == (TOPICS.trust, TOPICS.revocations)
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    rl = revocation.build(key.key, b"s" * 16, {b"e" * 16: int(now.timestamp())}, now)
    tl = trustlist.build(load_signer(signer.bundle), CID, [key.key.certificate], now)
    stop = threading.Event()
    updates = worker(config, stop).start()  # start() reads the pinned trust-list signers
    assert updates.handle(Received("county/demo/county/330106/other", rl, True)) == "ignored"
    assert updates.handle(Received(TOPICS.revocations, b"", True)) == "ignored"
    assert updates.handle(Received(TOPICS.trust, rl, True)) == "list.malformed"
    assert updates.handle(Received(TOPICS.trust, tl, True)) == "accepted"
    assert updates.handle(Received(TOPICS.revocations, rl, True)) == "accepted"
    assert updates.handle(Received(TOPICS.revocations, rl, True)) == "unchanged"
    health = updates.health()
    assert health.revocation_entries == 1 and health.trust_certs == 1 and health.refused == 1
    assert not health.revocations_stale
    stop.set()
    assert updates.join(5)
    # a new worker (a restart) has both lists in force from the ledger file, before any message
    again = restarted(config)
    assert again.health().revocation_entries == 1 and again.health().trust_certs == 1
    with sqlite3.connect(config.ledger_path) as db:
        db.execute("UPDATE county_lists SET payload = substr(payload, 1, 40) WHERE kind = ?",
                   ("revocations",))  # fmt: skip
    health = restarted(config).health()
    assert health.revocation_entries is None and health.revocations_stale
    assert health.last_refusal is not None and health.last_refusal["reason"] == "list.malformed"


def test_kiosk_verify_reads_the_list_the_kiosk_holds(tmp_path: Path) -> None:
    key = make_issuer(tmp_path / "k", CID)
    verify = {"county_trust": [str(key.cert)], "updates": {"county_id": CID}}
    values = config_dict(tmp_path / "state", 1883, verify=verify)
    config = make_config(tmp_path / "state", 1883, verify=verify)
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    salt = b"s" * 16
    entries = {revocation.subject_entry(salt, CID, "subject-alice-0001"): int(now.timestamp())}
    stop = threading.Event()
    updates = worker(config, stop).start()
    signed = revocation.build(key.key, salt, entries, now)
    assert updates.handle(Received(TOPICS.revocations, signed, True)) == "accepted"
    stop.set()
    assert updates.join(5)
    toml = write_config(tmp_path / "kiosk.toml", values)
    for subject, revoked in (("subject-alice-0001", True), ("subject-bob-000002", False)):
        done = kiosk_cmd("verify", "--config", str(toml), pass_for(key.key, subject))
        assert done.returncode == 0, done.stderr
        doc = json.loads(done.stdout)
        assert doc["valid"] is True
        assert doc["revocation"] == {"revoked": revoked, "list_issued_at": utc_iso(now)}


def test_a_revocation_list_that_comes_before_its_key_is_taken_with_the_trust_list(
    tmp_path: Path,
) -> None:
    old, new = make_issuer(tmp_path / "old", CID), make_issuer(tmp_path / "new", CID)
    signer = make_issuer(tmp_path / "s", "trust-330106")
    config = make_config(
        tmp_path / "state", 1883,
        verify={"county_trust": [str(old.cert)],
                "updates": {"county_id": CID, "trust_signers": [str(signer.cert)]}},
    )  # fmt: skip
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    by_new_key = revocation.build(new.key, b"s" * 16, {}, now)
    rollover = trustlist.build(load_signer(signer.bundle), CID, [new.key.certificate], now)
    stop = threading.Event()
    updates = worker(config, stop).start()
    assert updates.handle(Received(TOPICS.revocations, by_new_key, True)) == "list.unknown_key"
    assert updates.handle(Received(TOPICS.trust, rollover, True)) == "accepted"
    assert updates.health().revocation_entries == 0  # taken once its key was trusted
    stop.set()
    assert updates.join(5)
    assert restarted(config).health().revocation_entries == 0  # and stored
