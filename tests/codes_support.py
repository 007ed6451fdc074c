"""Test support for codes: the EU DCC test cases (read from tests/data) and county issuers."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kiosk.codes.keys import IssuerKey, generate, load_issuer

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
