"""Fuzzing: random text, truncated and bit-flipped codes never crash a verifier; all get reasons."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.codes import county
from kiosk.codes.envelope import ALPHABET, b45encode
from kiosk.codes.verifier import Verifier
from kiosk.config import VerifySection
from kiosk.model import CodeStatus, PassClaims, Verification
from kiosk.reasons import REASONS
from tests.codes_support import Issuer

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
DGC = Path(__file__).parents[1] / "data" / "dgc-testdata" / "common" / "2DCode" / "raw" / "CO3.json"
FUZZ = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def setup(
    county_issuer: Issuer, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Verifier, str, str]:
    claims = PassClaims(
        issuer="330106", subject_key="c2a41f0e9b7d43a8b5e6f7a8", masked_name="李*",
        status=CodeStatus.GREEN, status_updated_at=NOW, issued_at=NOW - timedelta(days=1),
        expires_at=NOW + timedelta(days=30), test_at=None, test_result=None, vaccine_doses=2,
    )  # fmt: skip
    pass_text = county.issue(claims, county_issuer.key)
    case = json.loads(DGC.read_text())
    der = tmp_path_factory.mktemp("dcc") / "signer.der"
    import base64

    der.write_bytes(base64.b64decode(case["TESTCTX"]["CERTIFICATE"]))
    section = VerifySection(
        county_trust=(county_issuer.cert,), dcc_trust=(der,),
    )  # fmt: skip
    verifier = Verifier(section)
    verifier.load()
    assert verifier.verify(pass_text, NOW).valid
    dcc_now = datetime(2021, 5, 3, 18, tzinfo=UTC)
    assert verifier.verify(case["PREFIX"], dcc_now).valid
    return verifier, pass_text, case["PREFIX"]


def _sound(v: Verification) -> None:
    """Every answer is complete: a valid one is a colour, an invalid one has known reasons."""
    if v.valid:
        assert v.status in (CodeStatus.GREEN, CodeStatus.YELLOW, CodeStatus.RED)
    else:
        assert v.reasons and all(r in REASONS for r in v.reasons), v.reasons
        assert v.status not in (CodeStatus.GREEN, CodeStatus.YELLOW, CodeStatus.RED)


@FUZZ
@given(text=st.text(max_size=600))
def test_random_text(setup: tuple[Verifier, str, str], text: str) -> None:
    v = setup[0].verify(text, NOW)
    _sound(v)
    assert not v.valid


@FUZZ
@given(prefix=st.sampled_from(["CP1:", "HC1:"]), body=st.binary(max_size=400))
def test_random_payload_behind_a_real_prefix(
    setup: tuple[Verifier, str, str], prefix: str, body: bytes
) -> None:
    v = setup[0].verify(prefix + b45encode(body), NOW)
    _sound(v)
    assert not v.valid


@FUZZ
@given(which=st.integers(0, 1), data=st.data())
def test_truncated_codes(setup: tuple[Verifier, str, str], which: int, data: st.DataObject) -> None:
    verifier, *texts = setup
    text = texts[which]
    cut = data.draw(st.integers(0, len(text) - 1))
    v = verifier.verify(text[:cut], NOW)
    _sound(v)
    assert not v.valid


@FUZZ
@given(which=st.integers(0, 1), data=st.data())
def test_bit_flipped_codes(
    setup: tuple[Verifier, str, str], which: int, data: st.DataObject
) -> None:
    verifier, *texts = setup
    text = texts[which]
    i = data.draw(st.integers(0, len(text) - 1))
    bit = data.draw(st.integers(0, 6))
    flipped = text[:i] + chr(ord(text[i]) ^ (1 << bit)) + text[i + 1 :]
    v = verifier.verify(flipped, NOW if which == 0 else datetime(2021, 5, 3, 18, tzinfo=UTC))
    _sound(v)
    assert not v.valid


@FUZZ
@given(data=st.data())
def test_character_substitutions_inside_base45(
    setup: tuple[Verifier, str, str], data: st.DataObject
) -> None:
    verifier, pass_text, _ = setup
    i = data.draw(st.integers(4, len(pass_text) - 1))
    c = data.draw(st.sampled_from(ALPHABET).filter(lambda ch: ch != pass_text[i]))
    v = verifier.verify(pass_text[:i] + c + pass_text[i + 1 :], NOW)
    _sound(v)
    assert not v.valid
