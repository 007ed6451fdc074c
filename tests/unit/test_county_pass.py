"""County offline passes: issued passes verify; tampered, foreign, expired ones do not."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cbor2
import pytest

from kiosk.codes import county
from kiosk.codes.envelope import b45decode, b45encode, inflate, unwrap, wrap
from kiosk.codes.privacy import SubjectHasher
from kiosk.codes.trust import TrustList, load_trust
from kiosk.codes.verifier import Verifier
from kiosk.config import VerifySection
from kiosk.model import CodeStatus, Itinerary, ItineraryStatus, PassClaims
from tests.codes_support import Issuer, make_issuer

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
SUBJECT = "c2a41f0e9b7d43a8b5e6f7a8"


def claims(issuer: str = "330106", **changes: object) -> PassClaims:
    base = PassClaims(
        issuer=issuer,
        subject_key=SUBJECT,
        masked_name="张*中",
        status=CodeStatus.GREEN,
        status_updated_at=NOW - timedelta(hours=2),
        issued_at=NOW - timedelta(days=1),
        expires_at=NOW + timedelta(days=89),
        test_at=NOW - timedelta(hours=20),
        test_result="negative",
        vaccine_doses=3,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def trust_of(*issuers: Issuer) -> TrustList:
    return load_trust([i.cert for i in issuers]).trust


def check(text: str, trusted: tuple[Issuer, ...], now: datetime = NOW) -> tuple[str, ...]:
    """The reasons the Verifier facade gives (empty when valid), trusting ``trusted``."""
    verifier = Verifier(VerifySection(county_trust=tuple(i.cert for i in trusted)))
    verifier.load()
    result = verifier.verify(text, now)
    assert result.kind == "county-pass"
    return result.reasons


def test_issued_pass_verifies_with_every_claim(county_issuer: Issuer) -> None:
    text = county.issue(claims(), county_issuer.key)
    assert text.startswith("CP1:") and len(text) < 600
    hasher = SubjectHasher(b"kiosk-secret-key-0123456789")
    v = county.verify(text, trust_of(county_issuer), NOW, hasher)
    assert (v.kind, v.status, v.valid, v.reasons) == ("county-pass", CodeStatus.GREEN, True, ())
    assert v.masked_name == "张*中" and v.issuer == "330106" and v.vaccine_doses == 3
    assert v.test_result == "negative" and v.test_at == NOW - timedelta(hours=20)
    assert v.subject_hash == hasher("county:330106", SUBJECT)
    assert SUBJECT not in repr(v)


@pytest.mark.parametrize("status", list(ItineraryStatus))
def test_itinerary_claim_is_carried(county_issuer: Issuer, status: ItineraryStatus) -> None:
    itinerary = Itinerary(status, NOW - timedelta(days=2))
    text = county.issue(claims(itinerary=itinerary), county_issuer.key)
    cwt = cbor2.loads(county.encode_claims(claims(itinerary=itinerary)))
    assert cwt[county.CLAIM_HEALTH]["it"] == {"s": status.value, "u": int(NOW.timestamp()) - 172800}
    v = county.verify(text, trust_of(county_issuer), NOW, SubjectHasher(None))
    assert (v.valid, v.status, v.itinerary) == (True, CodeStatus.GREEN, itinerary)


def test_pass_without_itinerary_stays_valid(county_issuer: Issuer) -> None:
    """Spec 1.0 passes (no ``it``) verify unchanged under 1.1."""
    text = county.issue(claims(), county_issuer.key)
    assert "it" not in cbor2.loads(county.encode_claims(claims()))[county.CLAIM_HEALTH]
    v = county.verify(text, trust_of(county_issuer), NOW, SubjectHasher(None))
    assert (v.valid, v.itinerary) == (True, None)


def test_eddsa_pass_verifies(tmp_path: Path) -> None:
    ed = make_issuer(tmp_path, "330108", alg="EdDSA")
    text = county.issue(claims("330108"), ed.key)
    assert county.verify(text, trust_of(ed), NOW, SubjectHasher(None)).valid


@pytest.mark.parametrize("status", [CodeStatus.YELLOW, CodeStatus.RED])
def test_colours_are_carried(county_issuer: Issuer, status: CodeStatus) -> None:
    text = county.issue(claims(status=status), county_issuer.key)
    v = county.verify(text, trust_of(county_issuer), NOW, SubjectHasher(None))
    assert v.valid and v.status is status


def test_changed_byte_is_a_bad_signature(county_issuer: Issuer) -> None:
    cose = unwrap(county.issue(claims(), county_issuer.key), county.PREFIX)
    for i in (len(cose) - 1, len(cose) - 40):  # in the signature, in the payload
        forged = bytearray(cose)
        forged[i] ^= 0x01
        assert check(wrap(bytes(forged), county.PREFIX), (county_issuer,)) == (
            "code.bad_signature",
        )


def test_changed_claim_is_a_bad_signature(county_issuer: Issuer) -> None:
    text = county.issue(claims(status=CodeStatus.RED), county_issuer.key)
    cose = unwrap(text, county.PREFIX)
    forged = cose.replace(b"\x63red", b"\x63grn")  # red → a 3-letter lie, same length
    assert forged != cose
    assert check(wrap(forged, county.PREFIX), (county_issuer,)) == ("code.bad_signature",)


def test_pass_from_a_key_the_kiosk_does_not_trust(county_issuer: Issuer, tmp_path: Path) -> None:
    rogue = make_issuer(tmp_path, "330106")  # same county id, a different key
    text = county.issue(claims(), rogue.key)
    assert check(text, (county_issuer,)) == ("code.unknown_key",)


def test_pass_from_an_unknown_issuer(county_issuer: Issuer, other_issuer: Issuer) -> None:
    text = county.issue(claims("330107"), other_issuer.key)
    assert check(text, (county_issuer,)) == ("code.unknown_issuer",)


def test_key_of_one_county_cannot_sign_for_another(
    county_issuer: Issuer, other_issuer: Issuer
) -> None:
    """Both counties trusted; a pass claiming 330106 signed with 330107's key is refused."""
    payload = county.encode_claims(claims("330106"))
    from kiosk.codes.cose import sign1

    cose = sign1(payload, other_issuer.key.private_key, other_issuer.key.kid)
    text = wrap(cose, county.PREFIX)
    assert check(text, (county_issuer, other_issuer)) == ("code.unknown_key",)


def test_expired_and_not_yet_valid(county_issuer: Issuer) -> None:
    text = county.issue(claims(), county_issuer.key)
    v = county.verify(text, trust_of(county_issuer), NOW + timedelta(days=90), SubjectHasher(None))
    assert (v.status, v.valid, v.reasons) == (CodeStatus.EXPIRED, False, ("code.expired",))
    assert check(text, (county_issuer,), NOW - timedelta(days=2)) == ("code.not_yet_valid",)


def test_certificate_must_be_valid_when_the_pass_was_issued(tmp_path: Path) -> None:
    short = make_issuer(tmp_path, "330109", days=40)  # valid from 30 days ago for 40 days
    text = county.issue(claims("330109", issued_at=NOW + timedelta(days=20)), short.key)
    later = NOW + timedelta(days=21)
    assert check(text, (short,), later) == ("code.key_not_valid",)


def test_issue_refuses_passes_a_kiosk_would_refuse(county_issuer: Issuer) -> None:
    with pytest.raises(ValueError, match="masked"):
        county.issue(claims(masked_name="张小中"), county_issuer.key)
    with pytest.raises(ValueError, match="ID number"):
        county.issue(claims(subject_key="11010519491231002X"), county_issuer.key)
    with pytest.raises(ValueError, match="issuer"):
        county.issue(claims("330107"), county_issuer.key)


def _signed(issuer: Issuer, cwt: dict[object, object]) -> str:
    from kiosk.codes.cose import sign1

    return wrap(sign1(cbor2.dumps(cwt), issuer.key.private_key, issuer.key.kid), county.PREFIX)


@pytest.mark.parametrize(
    "broken",
    [
        {"s": "purple"},
        {"n": ""},
        {"su": "yesterday"},
        {"na": {"t": 1, "r": "maybe"}},
        {"vd": -1},
        {"vd": True},
        {"it": "starred"},
        {"it": {"s": "amber", "u": 1}},
        {"it": {"s": "starred"}},
        {"it": {"s": "normal", "u": -5}},
    ],
)
def test_signed_but_malformed_health_claims(
    county_issuer: Issuer, broken: dict[str, object]
) -> None:
    cwt = cbor2.loads(county.encode_claims(claims()))
    cwt[county.CLAIM_HEALTH].update(broken)
    assert check(_signed(county_issuer, cwt), (county_issuer,)) == ("code.malformed",)


def test_signed_pass_with_an_id_number_as_subject_is_refused(county_issuer: Issuer) -> None:
    cwt = cbor2.loads(county.encode_claims(claims()))
    cwt[2] = "11010519491231002X"
    assert check(_signed(county_issuer, cwt), (county_issuer,)) == ("code.malformed",)


def test_unmasked_name_in_a_signed_pass_is_masked_by_the_kiosk(county_issuer: Issuer) -> None:
    cwt = cbor2.loads(county.encode_claims(claims()))
    cwt[county.CLAIM_HEALTH]["n"] = "欧阳小明"
    v = county.verify(
        _signed(county_issuer, cwt), trust_of(county_issuer), NOW, SubjectHasher(None)
    )
    assert v.valid and v.masked_name == "欧**明"


BASE45_VECTORS = [  # RFC 9285 §4.3 and §4.4
    (b"AB", "BB8"),
    (b"Hello!!", "%69 VD92EX0"),
    (b"base-45", "UJCLQE7W581"),
    (b"ietf!", "QED8WEX0"),
    (b"", ""),
]


@pytest.mark.parametrize(("raw", "text"), BASE45_VECTORS)
def test_base45_rfc9285_vectors(raw: bytes, text: str) -> None:
    assert b45encode(raw) == text
    assert b45decode(text) == raw


@pytest.mark.parametrize("bad", ["GGW", "A", "ab", "AB\n", "ZZZZ"])
def test_base45_rejects_bad_text(bad: str) -> None:
    with pytest.raises(ValueError):
        b45decode(bad)


def test_inflate_refuses_a_zip_bomb() -> None:
    import zlib

    bomb = zlib.compress(b"\0" * (10 * 1024 * 1024), 9)
    assert len(bomb) < 20_000
    with pytest.raises(ValueError, match="too large"):
        inflate(bomb)
    with pytest.raises(ValueError, match="truncated"):
        inflate(zlib.compress(b"x" * 100)[:-3])
