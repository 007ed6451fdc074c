"""County offline passes: issued passes verify; tampered, foreign, expired ones do not."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cbor2
import pytest

from kiosk.codes import county
from kiosk.codes.cose import parse_sign1
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


# -- what docs/county-pass.md settles for an independent issuer ----------------------------


def _cwt() -> dict[object, object]:
    cwt: dict[object, object] = cbor2.loads(county.encode_claims(claims()))
    return cwt


@pytest.mark.parametrize("where", ["iat", "exp", "su", "na.t"])
def test_times_must_be_integers_not_whole_floats(county_issuer: Issuer, where: str) -> None:
    """§3: iat, exp, su and na.t are unsigned integers; 1.7e9 as a float is refused."""
    cwt = _cwt()
    health = cwt[county.CLAIM_HEALTH]
    assert isinstance(health, dict)
    if where == "iat":
        cwt[6] = float(cwt[6])  # type: ignore[arg-type]
    elif where == "exp":
        cwt[4] = float(cwt[4])  # type: ignore[arg-type]
    elif where == "su":
        health["su"] = float(health["su"])
    else:
        health["na"]["t"] = float(health["na"]["t"])
    assert check(_signed(county_issuer, cwt), (county_issuer,)) == ("code.malformed",)


def test_expiry_before_issue_is_a_claims_error_whatever_the_time(county_issuer: Issuer) -> None:
    """§4 step 8: exp <= iat is code.malformed, found before the times are compared with now."""
    iat = int((NOW - timedelta(days=1)).timestamp())
    for exp in (iat, iat - 1):
        text = _signed(county_issuer, {**_cwt(), 6: iat, 4: exp})
        for when in (NOW - timedelta(days=3), NOW, NOW + timedelta(days=3)):
            assert check(text, (county_issuer,), when) == ("code.malformed",)


def test_a_pass_is_valid_at_its_exact_expiry_second(county_issuer: Issuer) -> None:
    text = county.issue(claims(), county_issuer.key)
    exp = claims().expires_at
    assert check(text, (county_issuer,), exp) == ()
    assert check(text, (county_issuer,), exp + timedelta(seconds=1)) == ("code.expired",)


@pytest.mark.parametrize("wrapping", ["untagged", "tag 18", "tag 61 around tag 18"])
def test_cose_sign1_tagged_or_not(county_issuer: Issuer, wrapping: str) -> None:
    """§2: tag 18 is what issuers write; untagged (RFC 9052 §2: the CP1: prefix already says
    what follows) and an outer CWT tag 61 are accepted too."""
    tagged = cbor2.loads(unwrap(county.issue(claims(), county_issuer.key), county.PREFIX))
    assert isinstance(tagged, cbor2.CBORTag) and tagged.tag == 18
    item = {
        "untagged": tagged.value,
        "tag 18": tagged,
        "tag 61 around tag 18": cbor2.CBORTag(61, tagged),
    }[wrapping]
    assert check(wrap(cbor2.dumps(item), county.PREFIX), (county_issuer,)) == ()


def _nested(levels: int, tag_inside: bool = False) -> object:
    """A value ``levels`` levels deep: arrays, the innermost a tag around 0 if ``tag_inside``."""
    value: object = cbor2.CBORTag(1000, 0) if tag_inside else [0]
    for _ in range(levels - 1):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("levels", "tag_inside", "reasons"),
    [(23, False, ()), (24, False, ("code.malformed",)),
     (23, True, ()), (24, True, ("code.malformed",))],
)  # fmt: skip
def test_nesting_depth_counts_from_the_claims_map(
    county_issuer: Issuer, levels: int, tag_inside: bool, reasons: tuple[str, ...]
) -> None:
    """§3: the claims map is level 1 and every map, array and tag inside adds one; an unknown
    claim reaching level 24 is ignored, one reaching level 25 is refused."""
    cwt = {**_cwt(), -65538: _nested(levels, tag_inside)}  # an unknown private claim
    assert check(_signed(county_issuer, cwt), (county_issuer,)) == reasons


@pytest.mark.parametrize(
    ("sub", "refused"),
    [("11010519491231002X", True), ("11010519491231002x", True),
     ("110105194912310029", True),  # a wrong check digit is still the pattern: refused
     ("1101051949123100291", False), ("11010519491231002Y", False),
     ("ab010519491231002X", False)],
)  # fmt: skip
def test_resident_id_pattern_in_sub(county_issuer: Issuer, sub: str, refused: bool) -> None:
    """§3: sub is refused when it is 17 digits and a digit or X/x (no checksum is computed);
    the 15-digit form is already shorter than a subject key may be."""
    text = _signed(county_issuer, {**_cwt(), 2: sub})
    assert check(text, (county_issuer,)) == (("code.malformed",) if refused else ())


def test_certificate_usage_is_not_checked(county_issuer: Issuer) -> None:
    """§1: a county certificate is trusted by being in the county trust list with CN = iss;
    its key usage and extended key usage are not read (a DCC-only EKU does not matter)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509.oid import ExtendedKeyUsageOID

    from kiosk.codes.cose import sign1
    from kiosk.codes.trust import TrustList, key_id, trusted_cert

    old = county_issuer.key.certificate
    eku = x509.ExtendedKeyUsage(
        [ExtendedKeyUsageOID.SERVER_AUTH, x509.ObjectIdentifier("1.3.6.1.4.1.1847.2021.1.1")]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(old.subject)
        .issuer_name(old.subject)
        .public_key(old.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(old.not_valid_before_utc)
        .not_valid_after(old.not_valid_after_utc)
        .add_extension(eku, critical=False)
        .sign(county_issuer.key.private_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    kid = key_id(cert.public_bytes(Encoding.DER))
    cose = sign1(county.encode_claims(claims()), county_issuer.key.private_key, kid)
    trust = TrustList({kid: (trusted_cert(cert, "eku"),)})
    assert trust.lookup(kid)[0].usages == frozenset({"t"})
    v = county.verify(wrap(cose, county.PREFIX), trust, NOW, SubjectHasher(None))
    assert v.valid


def test_county_passes_keep_es256_on_p256(county_issuer: Issuer) -> None:
    """Unlike EU DCCs (docs/verification.md), a county pass under ES256 must come from a P-256
    key: a P-384 key in the county trust list does not verify one."""
    from cryptography.hazmat.primitives.asymmetric import ec

    from kiosk.codes.cose import verify_signature
    from kiosk.codes.errors import CodeError

    text = county.issue(claims(), county_issuer.key)
    msg = parse_sign1(unwrap(text, county.PREFIX))
    p384 = ec.generate_private_key(ec.SECP384R1()).public_key()
    with pytest.raises(CodeError, match="paired curve") as caught:
        verify_signature(msg, p384)
    assert caught.value.reason == "code.bad_signature"
