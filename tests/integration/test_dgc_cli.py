"""Every dgc-testdata case through the real ``kiosk verify`` command (text and image)."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.codes_support import DgcCase

pytestmark = pytest.mark.integration

KIOSK = [sys.executable, "-m", "kiosk"]
# The reason codes a failing stage may give; a false flag must fail for one of these.
STAGE_REASONS = {
    "EXPECTEDUNPREFIX": {"code.unknown_format"},
    "EXPECTEDB45DECODE": {"code.bad_encoding"},
    "EXPECTEDCOMPRESSION": {"code.bad_encoding"},
    "EXPECTEDVERIFY": {"code.bad_signature", "code.unknown_key", "code.malformed"},
    "EXPECTEDDECODE": {"code.malformed"},
    "EXPECTEDSCHEMAVALIDATION": {"code.malformed"},
    "EXPECTEDEXPIRATIONCHECK": {"code.expired", "code.not_yet_valid"},
    "EXPECTEDKEYUSAGE": {"code.wrong_usage"},
}
ALL_REASONS = set().union(*STAGE_REASONS.values())


def _kiosk_verify(case: DgcCase, tmp_path: Path, *what: str) -> subprocess.CompletedProcess[str]:
    cert = tmp_path / "signer.der"
    cert.write_bytes(case.cert_der)
    at = case.raw["TESTCTX"]["VALIDATIONCLOCK"]
    args = [*KIOSK, "verify", "--trust", str(cert), "--at", at, *what]
    return subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)


def _docs(proc: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def test_kiosk_verify_text_agrees_with_the_flags(dgc_case: DgcCase, tmp_path: Path) -> None:
    proc = _kiosk_verify(dgc_case, tmp_path, dgc_case.raw["PREFIX"])
    assert proc.returncode == 0, proc.stderr
    (doc,) = _docs(proc)
    flags = {k: v for k, v in dgc_case.expected.items() if k != "EXPECTEDPICTUREDECODE"}
    false = [k for k, v in flags.items() if not v]
    if not false:
        assert doc["valid"] is True and doc["status"] == "green" and doc["reasons"] == []
        assert doc["kind"] == "eu-dcc"
        assert doc["masked_name"] and "*" in doc["masked_name"]
        # masked claims only: no given or family name in the output
        given = dgc_case.raw.get("JSON", {}).get("nam", {}).get("gn")
        if given:
            assert given not in proc.stdout
    else:
        assert doc["valid"] is False and doc["status"] in ("failed", "expired")
        allowed = set().union(*(STAGE_REASONS.get(k, ALL_REASONS) for k in false))
        assert set(doc["reasons"]) & allowed, (dgc_case.name, doc["reasons"], false)
        assert doc["messages"][0]["zh"] and doc["messages"][0]["en"]


def test_kiosk_verify_image_agrees_with_the_flags(dgc_image_case: DgcCase, tmp_path: Path) -> None:
    dgc_case = dgc_image_case
    png = tmp_path / "code.png"
    png.write_bytes(base64.b64decode(dgc_case.get("2DCODE")))
    proc = _kiosk_verify(dgc_case, tmp_path, "--image", str(png))
    if dgc_case.expected.get("EXPECTEDPICTUREDECODE") is False:
        assert proc.returncode == 1 and "cannot read image" in proc.stderr
        return
    assert proc.returncode == 0, proc.stderr
    (doc,) = _docs(proc)
    text = _docs(_kiosk_verify(dgc_case, tmp_path, dgc_case.raw["PREFIX"]))[0]
    assert doc == text  # the image holds exactly the PREFIX text


def test_country_pngs_decode_to_verifiable_dccs(tmp_path: Path) -> None:
    """The AT, DE and IT folders' own PNGs: each holds an HC1 code that our decoder reads."""
    root = Path(__file__).parents[1] / "data" / "dgc-testdata"
    pngs = sorted(root.glob("*/png/*.png")) + sorted(root.glob("*/2DCode/png/*.png"))
    assert len(pngs) == 12
    from kiosk.codes.qrimage import read_qr_texts

    for png in pngs:
        (text,) = read_qr_texts(png)
        assert text.startswith("HC1:"), png
