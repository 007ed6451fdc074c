"""A county's signed trust list: the set of issuer certificates kiosks trust for its passes and
revocation lists, signed by a trust-list key pinned in each kiosk's config. The county builds
and signs it; the kiosk verifies it and swaps its county trust (docs/county-pass.md)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from kiosk.codes.cose import PrivateKey
from kiosk.codes.keys import load_issuer
from kiosk.codes.signedlist import LIST_MALFORMED, Envelope, ListRefused, open_list, seal
from kiosk.codes.trust import TrustedCert, TrustList, key_id, trusted_cert

#: Private-use CWT claim (RFC 8392 §4) holding the trust list's body.
CLAIM_TRUST = -65539
MAX_CERTS = 64


@dataclass(frozen=True)
class TrustSigner:
    """The county's trust-list signing key and its certificate (pinned by kiosks)."""

    private_key: PrivateKey
    certificate: x509.Certificate

    @property
    def kid(self) -> bytes:
        return key_id(self.certificate.public_bytes(Encoding.DER))


def load_signer(path: Path) -> TrustSigner:
    """Read a trust-list signer bundle (key + certificate PEM, as ``kiosk pass keygen`` writes);
    ValueError naming the problem, never key material."""
    bundle = load_issuer(path)
    return TrustSigner(bundle.private_key, bundle.certificate)


def build(
    signer: TrustSigner, county_id: str, certs: Iterable[x509.Certificate], issued_at: datetime
) -> bytes:
    """The signed trust list for ``county_id``: every certificate's CN must be the county id."""
    ders = [c.public_bytes(Encoding.DER) for c in certs]
    if not 0 < len(ders) <= MAX_CERTS:
        raise ValueError(f"a trust list holds 1-{MAX_CERTS} certificates")
    for der in ders:
        cert = trusted_cert(x509.load_der_x509_certificate(der), "build")
        if cert.subject_cn != county_id:
            raise ValueError(f'certificate CN "{cert.subject_cn}" is not the county "{county_id}"')
    body = {"c": ders}
    return seal(CLAIM_TRUST, body, county_id, issued_at, signer.private_key, signer.kid)


@dataclass(frozen=True)
class SignedTrustList:
    """A verified trust list: the county's issuer certificates in force from ``issued_at``."""

    envelope: Envelope
    certs: tuple[TrustedCert, ...]

    @property
    def issuer(self) -> str:
        return self.envelope.issuer

    @property
    def issued_at(self) -> datetime:
        return self.envelope.issued_at

    def apply(self, static: TrustList) -> TrustList:
        """``static`` with every certificate of this county replaced by the list's ones:
        new keys are added, keys the county withdrew are dropped."""
        found: dict[bytes, list[TrustedCert]] = {}
        for kid, certs in static.by_kid.items():
            kept = [c for c in certs if c.subject_cn != self.issuer]
            if kept:
                found[kid] = kept
        for cert in self.certs:
            found.setdefault(cert.kid, []).append(cert)
        return TrustList({kid: tuple(cs) for kid, cs in found.items()})


def parse(
    data: bytes, county_id: str, pinned: TrustList, now: datetime, skew_s: float = 300.0
) -> SignedTrustList:
    """Verify a trust list with the pinned trust-list signers; ``ListRefused`` if not.

    Every certificate must parse and carry the county id as CN, or the whole list is refused.
    """
    env = open_list(data, CLAIM_TRUST, county_id, pinned.lookup, now, skew_s)
    ders = env.body.get("c")
    if not isinstance(ders, list) or not 0 < len(ders) <= MAX_CERTS:
        raise ListRefused(LIST_MALFORMED, f"c must list 1-{MAX_CERTS} certificates")
    certs = []
    for index, der in enumerate(ders):
        try:
            if not isinstance(der, bytes):
                raise ValueError("not a byte string")
            cert = trusted_cert(x509.load_der_x509_certificate(der), f"trust list #{index}")
        except ValueError as exc:
            raise ListRefused(LIST_MALFORMED, f"certificate {index}: {exc}") from None
        if cert.subject_cn != county_id:
            raise ListRefused(LIST_MALFORMED, f"certificate {index} is not of county {county_id}")
        certs.append(cert)
    return SignedTrustList(env, tuple(certs))
