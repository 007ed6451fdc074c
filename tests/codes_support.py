"""Test support for codes: the EU DCC test cases (read from tests/data), EU DCCs signed here,
and county issuers."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from kiosk.codes.cose import ES256, ES384, ES512, PS256, sig_structure
from kiosk.codes.envelope import wrap
from kiosk.codes.keys import IssuerKey, generate, load_issuer
from kiosk.codes.trust import key_id

DGC_ROOT = Path(__file__).parent / "data" / "dgc-testdata"
# Misspellings found in the upstream suite, mapped to the flag they mean.
_FLAG_ALIASES = {"EXPTECTEDEXPIRED": "EXPECTEDEXPIRATIONCHECK"}


@dataclass(frozen=True)
class DgcCase:
    """One upstream test file: its payload stages, context and expected flags (name → bool)."""

    name: str
    raw: dict[str, Any]
    expected: dict[str, bool]

    @property
    def clock(self) -> datetime:
        from kiosk.model import parse_utc

        return parse_utc(self.raw["TESTCTX"]["VALIDATIONCLOCK"])

    @property
    def cert_der(self) -> bytes:
        import base64

        return base64.b64decode(self.raw["TESTCTX"]["CERTIFICATE"])

    def get(self, key: str) -> Any:
        return self.raw.get(key, self.raw.get(f"_{key}"))


def load_dgc_cases() -> list[DgcCase]:
    cases = []
    for path in sorted(DGC_ROOT.glob("*/2DCode/raw/*.json")):
        raw = json.loads(path.read_text(encoding="utf-8"))
        flags = raw.get("EXPECTEDRESULTS", {})
        if isinstance(flags, bool):  # some upstream files give one verdict for every stage
            flags = {"EXPECTEDVALIDJSON": flags}
        expected = {_FLAG_ALIASES.get(k, k): bool(v) for k, v in flags.items()}
        name = f"{path.parts[-4]}/{path.stem}"
        cases.append(DgcCase(name, raw, expected))
    return cases


@dataclass(frozen=True)
class Issuer:
    """An issuer bundle on disk with its certificate and the loaded key."""

    bundle: Path
    cert: Path
    key: IssuerKey


def make_issuer(directory: Path, issuer: str, alg: str = "ES256", days: int = 365) -> Issuer:
    directory.mkdir(parents=True, exist_ok=True)
    key_pem, cert_pem = generate(issuer, alg, datetime.now(UTC) - timedelta(days=30), days)
    bundle = directory / f"{issuer}-{alg}.key.pem"
    cert = directory / f"{issuer}-{alg}.crt.pem"
    bundle.write_bytes(key_pem + cert_pem)
    cert.write_bytes(cert_pem)
    return Issuer(bundle, cert, load_issuer(bundle))


# -- EU DCCs made here, for the points the shared test data does not cover -----------------

#: A complete schema-1.3 vaccination payload; tests change one field at a time.
DCC_NAM = {"fn": "Musterfrau-Gößinger", "fnt": "MUSTERFRAU<GOESSINGER", "gn": "Gabriele",
           "gnt": "GABRIELE"}  # fmt: skip
DCC_VACCINATION = {
    "tg": "840539006", "vp": "1119349007", "mp": "EU/1/20/1528", "ma": "ORG-100030215",
    "dn": 2, "sd": 2, "dt": "2021-06-01", "co": "AT", "is": "Ministry of Health, Austria",
    "ci": "URN:UVCI:01:AT:10807843F94AEE0EE5093FBC254BD813#B",
}  # fmt: skip
DCC_TEST = {
    "tg": "840539006", "tt": "LP6464-4", "nm": "Roche LightCycler qPCR",
    "sc": "2021-06-10T08:00:00Z", "tr": "260415000", "tc": "Testing center Vienna 1",
    "co": "AT", "is": "Ministry of Health, Austria",
    "ci": "URN:UVCI:01:AT:B5921A35D6A0D696421B3E2462178297#I",
}  # fmt: skip


def dcc_payload(ver: str = "1.3.0", **groups: Any) -> dict[str, Any]:
    """A DCC payload: names, date of birth and the given group(s), default one vaccination."""
    body = groups or {"v": [dict(DCC_VACCINATION)]}
    return {"ver": ver, "nam": dict(DCC_NAM), "dob": "1998-02-26", **body}


@dataclass(frozen=True)
class DccSigner:
    """A document signer: its private key and self-signed certificate (DER), valid 2020-2030."""

    private_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    cert_der: bytes

    @property
    def kid(self) -> bytes:
        return key_id(self.cert_der)

    def write(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.kid.hex()}.der"
        path.write_bytes(self.cert_der)
        return path


def make_dcc_signer(key_type: str = "P-256", usages: tuple[str, ...] = ()) -> DccSigner:
    """``key_type`` P-256, P-384, P-521 or RSA; ``usages`` are DCC EKU kinds (t, v, r)."""
    curves: dict[str, ec.EllipticCurve] = {
        "P-256": ec.SECP256R1(),
        "P-384": ec.SECP384R1(),
        "P-521": ec.SECP521R1(),
    }
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey = (
        rsa.generate_private_key(65537, 2048)
        if key_type == "RSA"
        else ec.generate_private_key(curves[key_type])
    )
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"DSC {key_type} test")])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime(2020, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2030, 1, 1, tzinfo=UTC))
    )
    if usages:
        oids = {"t": "1", "v": "2", "r": "3"}
        eku = [x509.ObjectIdentifier(f"1.3.6.1.4.1.1847.2021.1.{oids[u]}") for u in usages]
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    cert = builder.sign(key, hashes.SHA256())
    return DccSigner(key, cert.public_bytes(Encoding.DER))


def sign_dcc(
    signer: DccSigner,
    payload: Any,
    iat: Any,
    exp: Any,
    alg: int | None = None,
    hash_name: str | None = None,
) -> str:
    """The ``HC1:`` text of ``payload`` signed by ``signer``: COSE_Sign1 with alg and kid
    protected. ``alg`` defaults to the key's (ES256/ES384/ES512, PS256); ``hash_name`` signs
    with another hash than the header names (a mislabelled signature)."""
    key = signer.private_key
    if isinstance(key, ec.EllipticCurvePrivateKey):
        size = (key.curve.key_size + 7) // 8
        alg = alg if alg is not None else {32: ES256, 48: ES384, 66: ES512}[size]
    else:
        alg = alg if alg is not None else PS256
    default = {ES256: "SHA256", ES384: "SHA384", ES512: "SHA512", PS256: "SHA256"}[alg]
    digest = getattr(hashes, hash_name or default)()
    claims = {1: "AT", 4: exp, 6: iat, -260: {1: payload}}
    protected = cbor2.dumps({1: alg, 4: signer.kid})
    body = cbor2.dumps(claims)
    data = sig_structure(protected, body)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(digest)))
        signature = r.to_bytes(size, "big") + s.to_bytes(size, "big")
    else:
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
        signature = key.sign(data, pss, digest)
    return wrap(cbor2.dumps(cbor2.CBORTag(18, [protected, {}, body, signature])), "HC1:")
