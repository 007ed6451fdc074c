"""``county revoke`` and ``county trust publish`` as processes against a real mosquitto, with a
kiosk connected: the revoked pass is denied within 5 s of the command, keys roll over."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from county.config import load as county_load
from county.store.register import transaction
from kiosk.config import Config
from kiosk.model import Outcome
from kiosk.uplink.localbroker import LocalBroker
from tests.codes_support import Issuer, make_issuer
from tests.county_support import county_dict, pg_database
from tests.helpers import make_config, write_config
from tests.updates_support import door, pass_for, seconds_until

pytestmark = pytest.mark.integration

CID = "330106"
ALICE, BOB = "subject-alice-0001", "subject-bob-000002"


@dataclass
class Rig:
    kiosk: Config
    county_toml: Path
    county: Issuer
    rolled: Issuer
    signer: Issuer

    def county_cmd(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "county", *args, "--config", str(self.county_toml)],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip

    def set_trust_certs(self, *issuers: Issuer) -> None:
        values = json.loads(self.county_toml.with_suffix(".json").read_text())
        values["lists"]["trust_certs"] = [str(i.cert) for i in issuers]
        write_config(self.county_toml, values)


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The county database: its SQLite file, or a throwaway PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite://{tmp_path / 'county.sqlite'}"
    else:
        with pg_database() as url:
            yield url


@pytest.fixture
def rig(tmp_path: Path, broker: LocalBroker, database: str) -> Rig:
    county, rolled = make_issuer(tmp_path / "k1", CID), make_issuer(tmp_path / "k2", CID)
    signer = make_issuer(tmp_path / "signer", "trust-330106")
    values = county_dict(
        tmp_path / "county", broker.port, database,
        lists={"issuer_key_file": str(county.bundle),
               "trust_signer_key_file": str(signer.bundle),
               "trust_certs": [str(county.cert)]},
    )  # fmt: skip
    toml = write_config(tmp_path / "county.toml", values)
    toml.with_suffix(".json").write_text(json.dumps(values))
    kiosk = make_config(
        tmp_path / "kiosk", broker.port,
        verify={"county_trust": [str(county.cert)],
                "updates": {"county_id": CID, "trust_signers": [str(signer.cert)]}},
        uplink={"reconnect_min_s": 1, "reconnect_max_s": 1},
    )  # fmt: skip
    return Rig(kiosk, toml, county, rolled, signer)


def test_county_revoke_is_denied_within_5_s(rig: Rig, report: Callable[[str], None]) -> None:
    first = rig.county_cmd("revocations", "publish")
    assert first.returncode == 0, first.stderr
    with door(rig.kiosk) as kiosk:
        assert seconds_until(lambda: kiosk.updates.health().revocation_entries == 0)
        alice = pass_for(rig.county.key, ALICE)
        assert kiosk.outcome(alice) == (Outcome.PASS, ())
        started = time.monotonic()
        done = rig.county_cmd("revoke", "--subject", ALICE, "--reason", "status changed to red")
        assert done.returncode == 0, done.stderr
        doc = json.loads(done.stdout)
        assert doc["published"] is True and doc["entries"] == 1
        assert seconds_until(lambda: kiosk.outcome(alice)[0] == Outcome.DENY) is not None
        took = time.monotonic() - started
        assert took < 5.0
        report(f"county revoke: pass denied {took:.2f} s after the command started")
        assert kiosk.outcome(alice) == (Outcome.DENY, ("code.revoked",))
        assert kiosk.outcome(pass_for(rig.county.key, BOB)) == (Outcome.PASS, ())
        one = pass_for(rig.county.key, BOB, pass_id="ab" * 16)
        done = rig.county_cmd("revoke", "--pass-id", "AB" * 16, "--reason", "pass lost")
        assert done.returncode == 0, done.stderr
        assert seconds_until(lambda: kiosk.outcome(one)[0] == Outcome.DENY) is not None
        assert kiosk.outcome(pass_for(rig.county.key, BOB)) == (Outcome.PASS, ())
    with transaction(county_load(rig.county_toml)) as tx:  # keyed hashes only
        assert len(tx.entries()) == 2 and ALICE.encode() not in b"".join(tx.entries())


def test_bad_revocations_are_refused_before_anything_is_signed(rig: Rig) -> None:
    for args in (("--subject", "110101199003077777"), ("--pass-id", "xyz")):
        done = rig.county_cmd("revoke", *args, "--reason", "test")
        assert done.returncode == 2 and "county revoke:" in done.stderr
    done = rig.county_cmd("revoke", "--subject", ALICE, "--reason", "id 110101199003077777")
    assert done.returncode == 2


def test_trust_publish_rolls_the_county_key_over(rig: Rig) -> None:
    with door(rig.kiosk) as kiosk:
        old, new = pass_for(rig.county.key, ALICE), pass_for(rig.rolled.key, ALICE)
        assert kiosk.outcome(new)[1] == ("code.unknown_key",)
        rig.set_trust_certs(rig.county, rig.rolled)
        assert rig.county_cmd("trust", "publish").returncode == 0
        # the new key is trusted; no revocation list has come yet: referred (stale list)
        stale = (Outcome.REFER, ("code.revocations_stale",))
        assert seconds_until(lambda: kiosk.outcome(new) == stale) is not None
        assert rig.county_cmd("revocations", "publish").returncode == 0
        assert seconds_until(lambda: kiosk.outcome(new) == (Outcome.PASS, ())) is not None
        assert kiosk.outcome(old) == (Outcome.PASS, ())
        rig.set_trust_certs(rig.rolled)
        assert rig.county_cmd("trust", "publish").returncode == 0
        assert seconds_until(lambda: kiosk.outcome(old)[1] == ("code.unknown_key",)) is not None
        assert kiosk.outcome(new) == (Outcome.PASS, ())
        assert kiosk.updates.health().trust_certs == 1
