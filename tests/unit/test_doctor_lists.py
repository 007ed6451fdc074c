"""kiosk doctor's county-lists row: what the kiosk holds in its ledger file, re-verified as a
start would, judged against the list-age policy; real signed lists, a real ledger file."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kiosk.codes import revocation, trustlist
from kiosk.codes.trustlist import load_signer
from kiosk.config import Config
from kiosk.doctor.lists import check_county_lists
from kiosk.model import CheckStatus
from kiosk.storage import connect
from kiosk.uplink.updates import REVOCATIONS, TRUST, store_list
from tests.codes_support import make_issuer
from tests.helpers import make_config

CID = "330106"
ISSUED = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


@pytest.fixture
def kiosk(tmp_path: Path) -> tuple[Config, bytes, bytes]:
    """A kiosk following county 330106, and that county's signed revocation and trust lists."""
    key, signer = make_issuer(tmp_path / "k", CID), make_issuer(tmp_path / "s", "trust-330106")
    config = make_config(
        tmp_path / "state", 1883,
        verify={"county_trust": [str(key.cert)],
                "updates": {"county_id": CID, "trust_signers": [str(signer.cert)]}},
        policy={"max_list_age_h": 48, "stale_list_outcome": "refer"},
    )  # fmt: skip
    entries = {revocation.subject_entry(b"s" * 16, CID, f"subject-{i:04}"): 1 for i in range(3)}
    revocations = revocation.build(key.key, b"s" * 16, entries, ISSUED)
    trust = trustlist.build(load_signer(signer.bundle), CID, [key.key.certificate], ISSUED)
    return config, revocations, trust


def store(config: Config, kind: str, payload: bytes) -> None:
    iat = int(ISSUED.timestamp())
    store_list(config.ledger_path, kind, CID, iat, payload, ISSUED)


def test_lists_held_fresh_stale_missing_and_damaged(kiosk: tuple[Config, bytes, bytes]) -> None:
    config, revocations, trust = kiosk
    later = ISSUED + timedelta(hours=1)
    # before the first start: no ledger file, and the check does not make one
    found = check_county_lists(config, {}, later)
    assert found.status is CheckStatus.WARN and "no list held yet" in found.detail
    assert "SEE STAFF" in found.detail and not config.ledger_path.exists()
    # a ledger without lists: county passes are referred until the county's list arrives
    connect(config.ledger_path).close()
    found = check_county_lists(config, {}, later)
    assert found.status is CheckStatus.WARN, found
    assert "no revocation list held; county passes get SEE STAFF" in found.detail
    # both lists held and fresh
    store(config, TRUST, trust)
    store(config, REVOCATIONS, revocations)
    found = check_county_lists(config, {}, later)
    assert found.status is CheckStatus.OK, found
    assert found.detail == (
        "county 330106: revocation list issued 2026-11-30T08:00:00.000Z (3 entries); "
        "trust list issued 2026-11-30T08:00:00.000Z (1 certificate)"
    )
    # older than policy.max_list_age_h
    found = check_county_lists(config, {}, ISSUED + timedelta(hours=49))
    assert found.status is CheckStatus.WARN and "stale; county passes get SEE STAFF" in found.detail
    # a stored list that no longer verifies is named, and the policy's outcome with it
    with sqlite3.connect(config.ledger_path) as db:
        db.execute("UPDATE county_lists SET payload = substr(payload, 1, 40) WHERE kind = ?",
                   (REVOCATIONS,))  # fmt: skip
    found = check_county_lists(config, {}, later)
    assert found.status is CheckStatus.WARN, found
    assert "stored revocations list refused" in found.detail and "SEE STAFF" in found.detail


@pytest.mark.usefixtures("kiosk")  # the county's issuer certificate in tmp_path / "k"
def test_not_following_a_county_and_a_missing_signer(tmp_path: Path) -> None:
    plain = make_config(tmp_path / "plain", 1883)
    assert check_county_lists(plain, {}).status is CheckStatus.OK
    gone = make_config(
        tmp_path / "state", 1883,
        verify={"county_trust": [str(tmp_path / "k")],
                "updates": {"county_id": CID, "trust_signers": [str(tmp_path / "nope.pem")]}},
    )  # fmt: skip
    found = check_county_lists(gone, {})
    assert found.status is CheckStatus.WARN and "nope.pem: no such file" in found.detail
