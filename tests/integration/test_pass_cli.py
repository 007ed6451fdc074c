"""``kiosk pass keygen/issue`` and ``kiosk verify`` as an issuer and a technician use them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

KIOSK = [sys.executable, "-m", "kiosk"]


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*KIOSK, *args], capture_output=True, text=True, input=stdin, timeout=60, check=False
    )


def doc(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 1
    return dict(json.loads(lines[0]))


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    out = tmp_path_factory.mktemp("keys")
    return {
        name: doc(run("pass", "keygen", "--issuer", issuer, "--out", str(out / name)))
        for name, issuer in (("county", "330106"), ("rogue", "330106"), ("other", "330107"))
    }


def issue(key: dict[str, Any], *extra: str) -> dict[str, Any]:
    return doc(
        run("pass", "issue", "--key", key["bundle"], "--subject", "c2a41f0e9b7d43a8b5e6f7a8",
            "--name", "欧阳小明", "--doses", "3", "--test-at", "2026-11-27T08:00:00Z",
            "--test-result", "negative", *extra)
    )  # fmt: skip


def verify(key: dict[str, Any], *what: str) -> dict[str, Any]:
    return doc(run("verify", "--trust", key["certificate"], *what))


def test_keygen_writes_a_private_bundle_and_a_public_certificate(
    keys: dict[str, dict[str, Any]],
) -> None:
    county = keys["county"]
    assert county["issuer"] == "330106" and len(county["kid"]) == 16 and county["alg"] == "ES256"
    assert Path(county["bundle"]).stat().st_mode & 0o077 == 0
    assert b"PRIVATE KEY" not in Path(county["certificate"]).read_bytes()


def test_issued_pass_verifies_as_text_stdin_and_image(
    keys: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    png = tmp_path / "pass.png"
    issued = issue(keys["county"], "--png", str(png))
    assert issued["masked_name"] == "欧**明" and issued["text"].startswith("CP1:")
    by_text = verify(keys["county"], issued["text"])
    assert (by_text["kind"], by_text["valid"], by_text["status"]) == ("county-pass", True, "green")
    assert by_text["masked_name"] == "欧**明" and by_text["vaccine_doses"] == 3
    by_stdin = doc(
        run("verify", "--trust", keys["county"]["certificate"], "-", stdin=issued["text"] + "\n")
    )
    by_image = verify(keys["county"], "--image", str(png))
    assert by_text == by_stdin == by_image
    assert "小明" not in json.dumps(by_text, ensure_ascii=False)


def test_verify_passes_with_and_without_the_itinerary_claim(
    keys: dict[str, dict[str, Any]],
) -> None:
    without = verify(keys["county"], issue(keys["county"])["text"])
    assert (without["valid"], without["itinerary"]) == (True, None)
    starred = issue(keys["county"], "--itinerary", "starred",
                    "--itinerary-at", "2026-11-27T10:00:00Z")  # fmt: skip
    found = verify(keys["county"], starred["text"])
    assert (found["valid"], found["status"]) == (True, "green")
    assert found["itinerary"] == {"status": "starred", "updated_at": "2026-11-27T10:00:00.000Z"}
    normal = verify(keys["county"], issue(keys["county"], "--itinerary", "normal")["text"])
    assert normal["valid"] and normal["itinerary"]["status"] == "normal"


def test_each_kind_of_bad_pass_has_its_own_reason(
    keys: dict[str, dict[str, Any]],
) -> None:
    county = keys["county"]
    text = issue(county)["text"]
    # one changed byte: swap a Base45 character in the middle of the signature region
    i = len(text) - 20
    changed = text[:i] + ("A" if text[i] != "A" else "B") + text[i + 1 :]
    results = {
        "changed byte": verify(county, changed),
        "wrong key": verify(county, issue(keys["rogue"])["text"]),
        "expired": verify(county, "--at", "2031-01-01T00:00:00Z", text),
        "unknown issuer": verify(county, issue(keys["other"])["text"]),
    }
    reasons = {name: tuple(r["reasons"]) for name, r in results.items()}
    assert all(not r["valid"] for r in results.values()), reasons
    assert reasons["wrong key"] == ("code.unknown_key",)
    assert reasons["expired"] == ("code.expired",)
    assert reasons["unknown issuer"] == ("code.unknown_issuer",)
    assert reasons["changed byte"][0] in ("code.bad_signature", "code.bad_encoding")
    assert len(set(reasons.values())) == 4


def test_changed_byte_inside_the_signed_data_is_a_bad_signature(
    keys: dict[str, dict[str, Any]],
) -> None:
    from kiosk.codes.envelope import unwrap, wrap

    text = issue(keys["county"])["text"]
    cose = bytearray(unwrap(text, "CP1:"))
    cose[-5] ^= 0x40
    result = verify(keys["county"], wrap(bytes(cose), "CP1:"))
    assert result["reasons"] == ["code.bad_signature"]
    assert result["messages"][0]["zh"].startswith("签名无效")


def test_usage_errors_exit_2(keys: dict[str, dict[str, Any]]) -> None:
    assert run("verify").returncode == 2
    bad = run("pass", "issue", "--key", keys["county"]["bundle"], "--subject", "11010519491231002X",
              "--name", "张三")  # fmt: skip
    assert bad.returncode == 2 and "ID number" in bad.stderr and bad.stdout == ""
    assert run("verify", "--image", "/nonexistent.png").returncode == 1


def test_verify_with_a_config_file_and_config_check(
    keys: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    config = tmp_path / "kiosk.toml"
    trust = Path(keys["county"]["certificate"]).parent
    config.write_text(
        f'[verify]\ncounty_trust = ["{trust}"]\n[policy]\nmax_test_age_h = 48\n', encoding="utf-8"
    )
    text = issue(keys["county"])["text"]
    assert doc(run("verify", "--config", str(config), text))["valid"] is True
    effective = doc(run("config", "check", str(config)))
    assert effective["verify"]["county_trust"] == [str(trust)]
    assert effective["policy"]["unverified_outcome"] == "refer"
    config.write_text('[policy]\nunverified_outcome = "pass"\n', encoding="utf-8")
    bad = run("config", "check", str(config))
    assert bad.returncode == 1 and "policy.unverified_outcome" in bad.stderr
