"""Trust lists: signer certificates (PEM or DER) read from files and folders, indexed by key id."""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from kiosk.codes.cose import PublicKey, Sign1, verify_signature
from kiosk.codes.errors import CodeError
from kiosk.reasons import CODE_UNKNOWN_KEY

logger = logging.getLogger(__name__)

MAX_FILE = 1024 * 1024

#: Extended key usages that limit an EU DCC signer to test (t), vaccination (v) or recovery (r)
#: certificates; both OID spellings in circulation are accepted.
DCC_USAGES = {
    f"1.3.6.1.4.1.{arc}1847.2021.1.{n}": kind
    for arc in ("", "0.")
    for n, kind in (("1", "t"), ("2", "v"), ("3", "r"))
}


def key_id(cert_der: bytes) -> bytes:
    """The COSE key id of a signer: the first 8 bytes of SHA-256 over the DER certificate."""
    return hashlib.sha256(cert_der).digest()[:8]


@dataclass(frozen=True)
class TrustedCert:
    """A trusted signer: its key, key id, subject CN (the county pass issuer), validity, usages.

    ``usages`` is None when the certificate does not restrict the DCC types it may sign.
    """

    kid: bytes
    public_key: PublicKey
    subject_cn: str | None
    not_before: datetime
    not_after: datetime
    usages: frozenset[str] | None
    source: str

    def valid_at(self, when: datetime) -> bool:
        return self.not_before <= when <= self.not_after


def trusted_cert(cert: x509.Certificate, source: str) -> TrustedCert:
    """Describe one certificate; ValueError if its key type cannot sign codes."""
    key = cert.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
        raise ValueError(f"unsupported key type {type(key).__name__}")
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    cn = cns[0].value if cns else None
    usages: frozenset[str] | None = None
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        eku = None
    except ValueError:  # an undecodable extension restricts nothing it can be shown to say
        logger.warning("trust list: %s: extended key usage unreadable; not restricting", source)
        eku = None
    if eku is not None:
        kinds = {DCC_USAGES[o.dotted_string] for o in eku if o.dotted_string in DCC_USAGES}
        usages = frozenset(kinds) if kinds else None
    return TrustedCert(
        kid=key_id(cert.public_bytes(Encoding.DER)),
        public_key=key,
        subject_cn=cn if isinstance(cn, str) else None,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        usages=usages,
        source=source,
    )


@dataclass(frozen=True)
class TrustList:
    """An immutable snapshot of trusted signers; replace it whole to reload (thread-safe)."""

    by_kid: Mapping[bytes, tuple[TrustedCert, ...]] = field(default_factory=dict)

    def lookup(self, kid: bytes | None) -> tuple[TrustedCert, ...]:
        return self.by_kid.get(kid, ()) if kid is not None else ()

    @functools.cached_property
    def issuers(self) -> frozenset[str]:
        """Subject CNs of all certificates: the county pass issuers this list knows."""
        return frozenset(c.subject_cn for cs in self.by_kid.values() for c in cs if c.subject_cn)

    def __len__(self) -> int:
        return sum(len(cs) for cs in self.by_kid.values())


@dataclass(frozen=True)
class TrustLoad:
    """The result of reading trust paths: the list and one line per problem (file: what)."""

    trust: TrustList
    problems: tuple[str, ...]


def _certs_in(path: Path) -> list[x509.Certificate]:
    if path.stat().st_size > MAX_FILE:
        raise ValueError("file larger than 1 MiB")
    data = path.read_bytes()
    if b"-----BEGIN" in data:
        certs = x509.load_pem_x509_certificates(data)
    else:
        certs = [x509.load_der_x509_certificate(data)]
    return certs


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
    return [path]


def read_certificates(paths: Iterable[Path]) -> list[x509.Certificate]:
    """Every certificate in ``paths`` (files, or folders read recursively), for a publisher of
    trust lists; OSError/ValueError on the first unreadable file (it must not go unnoticed)."""
    return [cert for root in paths for file in _files(root) for cert in _certs_in(file)]


def load_trust(paths: Iterable[Path]) -> TrustLoad:
    """Read every certificate in ``paths`` (files, or folders read recursively).

    Nothing here raises for a bad file: an unreadable path or a file that holds no usable
    certificate is reported in ``problems`` and skipped, so one bad file never empties the list.
    """
    found: dict[bytes, list[TrustedCert]] = {}
    problems: list[str] = []
    for root in paths:
        if not root.exists():
            problems.append(f"{root}: no such file or folder")
            continue
        for file in _files(root):
            try:
                certs = _certs_in(file)
                for cert in certs:
                    trusted = trusted_cert(cert, str(file))
                    found.setdefault(trusted.kid, []).append(trusted)
            except OSError as exc:
                problems.append(f"{file}: cannot read: {exc.strerror}")
            except ValueError as exc:
                problems.append(f"{file}: not a usable certificate (PEM or DER): {exc}")
    for problem in problems:
        logger.warning("trust list: %s", problem)
    trust = TrustList({kid: tuple(cs) for kid, cs in found.items()})
    return TrustLoad(trust, tuple(problems))


def verify_any(
    msg: Sign1, candidates: Iterable[TrustedCert], any_curve: bool = False
) -> TrustedCert:
    """The first candidate whose key verifies ``msg``; else the last CodeError (bad signature).

    ``any_curve``: see :func:`kiosk.codes.cose.verify_signature`.
    """
    error = CodeError(CODE_UNKNOWN_KEY, "no trusted certificate with this key id")
    for cert in candidates:
        try:
            verify_signature(msg, cert.public_key, any_curve)
        except CodeError as exc:
            error = exc
            continue
        return cert
    raise error
