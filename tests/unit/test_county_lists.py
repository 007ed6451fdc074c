"""The county's signed lists: revocation lookups, every refusal, trust-list updates and a key
rollover through the verifier — real keys, real COSE, no broker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import cbor2
import pytest
from cryptography import x509

from kiosk.codes import county, revocation, trustlist
from kiosk.codes.signedlist import ListRefused, seal, supersedes
from kiosk.codes.trust import TrustList, load_trust
from kiosk.codes.trustlist import TrustSigner, load_signer
from kiosk.codes.verifier import Verifier
from kiosk.config import UpdatesSection, VerifySection
from kiosk.model import CodeStatus, PassClaims, RevocationCheck
from tests.codes_support import Issuer, make_issuer

NOW = datetime.now(UTC).replace(microsecond=0)
CID = "330106"
SUBJECT = "subj-0123456789abcdef"
PASS_ID = "00112233445566778899aabbccddeeff"


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, Issuer]:
    return {
        "county": make_issuer(tmp_path / "county", CID),
        "forger": make_issuer(tmp_path / "forger", CID),  # same CN, key not trusted
        "other": make_issuer(tmp_path / "other", "330999"),
        "new": make_issuer(tmp_path / "new", CID, alg="EdDSA"),
        "signer": make_issuer(tmp_path / "signer", "trust-330106"),
    }


def trust_of(*issuers: Issuer) -> TrustList:
    return load_trust([i.cert for i in issuers]).trust


def revocations(key: Issuer, at: datetime = NOW, salt: bytes = b"s" * 16) -> bytes:
    entries = {
        revocation.subject_entry(salt, CID, SUBJECT): int(at.timestamp()),
        revocation.pass_entry(salt, CID, PASS_ID): int(at.timestamp()),
    }
    return revocation.build(key.key, salt, entries, at)


def test_lookup_by_subject_and_pass_id_with_issued_before(keys: dict[str, Issuer]) -> None:
    rl = revocation.parse(revocations(keys["county"]), CID, trust_of(keys["county"]), NOW)
    assert rl.issued_at == NOW and len(rl.entries) == 2
    earlier, later = NOW - timedelta(days=1), NOW + timedelta(seconds=1)
    assert rl.revokes(SUBJECT, None, earlier)
    assert not rl.revokes(SUBJECT, None, later)  # a pass issued after the revocation is good
    assert rl.revokes("another-subject-0000", PASS_ID, earlier)
    assert rl.revokes("another-subject-0000", PASS_ID.upper(), earlier)
    assert not rl.revokes("another-subject-0000", "ff" * 16, earlier)
    assert not rl.revokes("another-subject-0000", None, earlier)
    assert rl.check(SUBJECT, None, earlier) == RevocationCheck(True, NOW)


def test_entries_are_keyed_hashes_not_subjects(keys: dict[str, Issuer]) -> None:
    data = revocations(keys["county"])
    assert SUBJECT.encode() not in data and bytes.fromhex(PASS_ID) not in data


def _tamper(data: bytes) -> bytes:
    tagged = cbor2.loads(data)
    protected, unprotected, payload, signature = tagged.value
    payload = payload.replace(b"330106", b"330107")
    return cbor2.dumps(cbor2.CBORTag(18, [protected, unprotected, payload, signature]))


def _sealed(
    key: Issuer, body: dict[str, object], claim: int = revocation.CLAIM_REVOCATIONS
) -> bytes:
    k = key.key
    return seal(claim, body, k.issuer, NOW, k.private_key, k.kid)


REFUSED = [
    ("forged", lambda k: revocations(k["forger"]), "list.unknown_key"),
    ("other county", lambda k: revocations(k["other"]), "list.wrong_county"),
    ("tampered", lambda k: _tamper(revocations(k["county"])), "list.wrong_county"),
    ("bad signature", lambda k: revocations(k["county"])[:-3] + b"abc", "list.bad_signature"),
    ("truncated by 1", lambda k: revocations(k["county"])[:-1], "list.malformed"),
    ("truncated to half", lambda k: revocations(k["county"])[:60], "list.malformed"),
    ("empty", lambda k: b"", "list.malformed"),
    ("not CBOR", lambda k: b"\xff\x00junk", "list.malformed"),
    ("future", lambda k: revocations(k["county"], NOW + timedelta(hours=1)), "list.in_future"),
    ("a trust list", lambda k: _sealed(k["county"], {"c": []}, trustlist.CLAIM_TRUST),
     "list.malformed"),
    ("short salt", lambda k: _sealed(k["county"], {"k": b"s", "e": {}}), "list.malformed"),
    ("entry not 16 bytes", lambda k: _sealed(k["county"], {"k": b"s" * 16, "e": {b"x": 1}}),
     "list.malformed"),
    ("entry time text", lambda k: _sealed(k["county"], {"k": b"s" * 16, "e": {b"x" * 16: "1"}}),
     "list.malformed"),
    ("wrong version", lambda k: _sealed(k["county"], {"v": 2, "k": b"s" * 16, "e": {}}),
     "list.malformed"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "make", "reason"), REFUSED, ids=[r[0] for r in REFUSED])
def test_refused_lists(keys: dict[str, Issuer], name: str, make: object, reason: str) -> None:
    data = make(keys)  # type: ignore[operator]
    with pytest.raises(ListRefused) as caught:
        revocation.parse(data, CID, trust_of(keys["county"], keys["other"]), NOW)
    assert caught.value.reason == reason, name


def test_too_large_is_refused_before_parsing(keys: dict[str, Issuer]) -> None:
    with pytest.raises(ListRefused, match=r"list\.too_large"):
        revocation.parse(b"\0" * (32 * 1024 * 1024 + 1), CID, trust_of(keys["county"]), NOW)


def test_newer_replaces_same_is_unchanged_older_and_conflict_are_refused(
    keys: dict[str, Issuer],
) -> None:
    trust = trust_of(keys["county"])
    old = revocation.parse(revocations(keys["county"], NOW - timedelta(hours=1)), CID, trust, NOW)
    new = revocation.parse(revocations(keys["county"]), CID, trust, NOW)
    other = revocation.parse(revocations(keys["county"], salt=b"t" * 16), CID, trust, NOW)
    assert supersedes(None, old.envelope) and supersedes(old.envelope, new.envelope)
    assert not supersedes(new.envelope, new.envelope)
    with pytest.raises(ListRefused, match=r"list\.older"):
        supersedes(new.envelope, old.envelope)
    with pytest.raises(ListRefused, match=r"list\.conflict"):
        supersedes(new.envelope, other.envelope)


def _signer(issuer: Issuer) -> TrustSigner:
    return load_signer(issuer.bundle)


def _certs(*issuers: Issuer) -> list[x509.Certificate]:
    return [i.key.certificate for i in issuers]


def test_trust_list_needs_a_pinned_signer_and_only_this_countys_certificates(
    keys: dict[str, Issuer],
) -> None:
    pinned = trust_of(keys["signer"])
    data = trustlist.build(_signer(keys["signer"]), CID, _certs(keys["county"]), NOW)
    tl = trustlist.parse(data, CID, pinned, NOW)
    assert [c.kid for c in tl.certs] == [keys["county"].key.kid]
    with pytest.raises(ListRefused, match=r"list\.unknown_key"):
        trustlist.parse(data, CID, trust_of(keys["county"]), NOW)  # an issuer key is not pinned
    forged = trustlist.build(_signer(keys["forger"]), CID, _certs(keys["forger"]), NOW)
    with pytest.raises(ListRefused, match=r"list\.unknown_key"):
        trustlist.parse(forged, CID, pinned, NOW)
    with pytest.raises(ValueError, match="not the county"):
        trustlist.build(_signer(keys["signer"]), CID, _certs(keys["other"]), NOW)
    foreign = _sealed(keys["signer"], {"c": [keys["other"].cert.read_bytes()]}, -65539)
    with pytest.raises(ListRefused):
        trustlist.parse(foreign, "trust-330106", pinned, NOW)


def _pass(issuer: Issuer, pass_id: str | None = None) -> str:
    claims = PassClaims(
        issuer=CID, subject_key=SUBJECT, masked_name="张*中", status=CodeStatus.GREEN,
        status_updated_at=NOW - timedelta(hours=1), issued_at=NOW - timedelta(days=1),
        expires_at=NOW + timedelta(days=30), pass_id=pass_id,
    )  # fmt: skip
    return county.issue(claims, issuer.key)


def test_key_rollover_through_the_verifier(keys: dict[str, Issuer]) -> None:
    """Old key installed from files; the trust list adds the new one, then withdraws the old."""
    section = VerifySection(county_trust=(keys["county"].cert, keys["other"].cert))
    verifier = Verifier(section)
    verifier.load()
    old_pass, new_pass = _pass(keys["county"]), _pass(keys["new"])
    assert verifier.verify(old_pass, NOW).valid
    assert verifier.verify(new_pass, NOW).reasons == ("code.unknown_key",)
    pinned, signer = trust_of(keys["signer"]), _signer(keys["signer"])
    both = trustlist.build(signer, CID, _certs(keys["county"], keys["new"]), NOW)
    verifier.apply_trust_list(trustlist.parse(both, CID, pinned, NOW))
    assert verifier.verify(old_pass, NOW).valid and verifier.verify(new_pass, NOW).valid
    later = NOW + timedelta(minutes=1)
    only_new = trustlist.build(signer, CID, _certs(keys["new"]), later)
    verifier.apply_trust_list(trustlist.parse(only_new, CID, pinned, later))
    assert verifier.verify(new_pass, later).valid
    assert verifier.verify(old_pass, later).reasons == ("code.unknown_key",)
    # another county's certificate from the files is untouched by this county's list
    assert len(verifier.county_trust()) == 2
    # a revocation list signed with the withdrawn key is no longer accepted
    with pytest.raises(ListRefused, match=r"list\.unknown_key"):
        revocation.parse(revocations(keys["county"]), CID, verifier.county_trust(), later)


def test_verifier_marks_county_passes_of_the_followed_county(keys: dict[str, Issuer]) -> None:
    section = VerifySection(county_trust=(keys["county"].cert,), updates=UpdatesSection(CID))
    verifier = Verifier(section)
    verifier.load()
    assert verifier.verify(_pass(keys["county"]), NOW).revocation == RevocationCheck(False, None)
    verifier.apply_revocations(
        revocation.parse(revocations(keys["county"]), CID, verifier.county_trust(), NOW)
    )
    by_subject = verifier.verify(_pass(keys["county"]), NOW)
    assert by_subject.valid and by_subject.revocation == RevocationCheck(True, NOW)
    assert verifier.verify(_pass(keys["county"], PASS_ID), NOW).revocation == RevocationCheck(
        True, NOW
    )
