"""County issuer keys: generate a signing key with its self-signed certificate, load the bundle."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID

from kiosk.codes.cose import PrivateKey
from kiosk.codes.trust import key_id

ISSUER_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")


@dataclass(frozen=True)
class IssuerKey:
    """A county's signing key with its certificate: ``issuer`` is the certificate's CN."""

    private_key: PrivateKey
    certificate: x509.Certificate
    issuer: str
    kid: bytes

    @property
    def alg(self) -> str:
        return "EdDSA" if isinstance(self.private_key, ed25519.Ed25519PrivateKey) else "ES256"


def generate(issuer: str, alg: str, now: datetime, days: int) -> tuple[bytes, bytes]:
    """A new key (ES256 = P-256, or EdDSA = Ed25519) and its self-signed certificate, as PEM.

    The certificate's subject CN is ``issuer``; kiosks trust the certificate file.
    """
    if not ISSUER_PATTERN.fullmatch(issuer):
        raise ValueError("issuer must be 1-32 letters, digits, '.', '_' or '-'")
    key: PrivateKey = (
        ed25519.Ed25519PrivateKey.generate()
        if alg == "EdDSA"
        else ec.generate_private_key(ec.SECP256R1())
    )
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, issuer),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "county pass issuer"),
        ]
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=False,
                crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
    )  # fmt: skip
    digest = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    cert = builder.sign(key, digest)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)


def load_issuer(path: Path) -> IssuerKey:
    """Read an issuer bundle: one PEM file holding the private key and its certificate.

    ValueError (with a message, never key material) if either part is missing or they differ.
    """
    data = path.read_bytes()
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path}: no unencrypted PEM private key ({exc})") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
        raise ValueError(f"{path}: the key must be P-256 (ES256) or Ed25519 (EdDSA)")
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name != "secp256r1":
        raise ValueError(f"{path}: EC keys must be on P-256")
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise ValueError(f"{path}: no PEM certificate next to the key") from None
    cert = certs[0]
    if cert.public_key() != key.public_key():
        raise ValueError(f"{path}: the certificate does not belong to the key")
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    issuer = cns[0].value if cns else ""
    if not isinstance(issuer, str) or not ISSUER_PATTERN.fullmatch(issuer):
        raise ValueError(f"{path}: the certificate's CN must be the issuer id")
    kid = key_id(cert.public_bytes(serialization.Encoding.DER))
    return IssuerKey(key, cert, issuer, kid)
