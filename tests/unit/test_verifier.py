"""The facade: format detection, trust lists from files and folders, reload, secrets, config."""

from __future__ import annotations

import base64
import json
import logging
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from kiosk.codes import county
from kiosk.codes.trust import load_trust
from kiosk.codes.verifier import MAX_TEXT, Verifier
from kiosk.config import ConfigError, OnlineVerifySection, VerifySection, parse
from kiosk.model import CodeStatus, PassClaims
from tests.codes_support import DGC_ROOT, Issuer

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def a_pass(issuer: Issuer) -> str:
    return county.issue(
        PassClaims("330106", "c2a41f0e9b7d43a8b5e6f7a8", "张*中", CodeStatus.GREEN, NOW,
                   NOW - timedelta(days=1), NOW + timedelta(days=30)),
        issuer.key,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("text", "kind", "reason"),
    [("", "unknown", "code.unknown_format"), ("hello", "unknown", "code.unknown_format"),
     ("HC2:ABC", "unknown", "code.unknown_format"),
     ("https://x.example/q/1", "unknown", "code.unknown_format"),
     ("CP1:", "county-pass", "code.bad_encoding"), ("HC1:%%%", "eu-dcc", "code.bad_encoding"),
     ("CP1:" + "A" * MAX_TEXT, "county-pass", "code.malformed")],
)  # fmt: skip
def test_detection_and_reasons_before_load(text: str, kind: str, reason: str) -> None:
    v = Verifier(VerifySection()).verify(text, NOW)
    assert (v.kind, v.valid, v.status, v.reasons) == (kind, False, CodeStatus.FAILED, (reason,))


def test_nothing_is_trusted_before_load(county_issuer: Issuer) -> None:
    verifier = Verifier(VerifySection(county_trust=(county_issuer.cert,)), clock=lambda: NOW)
    assert verifier.verify(a_pass(county_issuer)).reasons == ("code.unknown_issuer",)
    report = verifier.load()
    assert report.county_certs == 1 and report.problems == ()
    assert verifier.verify(a_pass(county_issuer)).valid  # the injected clock is used


def test_trust_folders_pem_der_and_reload(county_issuer: Issuer, tmp_path: Path) -> None:
    folder = tmp_path / "trust"
    folder.mkdir()
    verifier = Verifier(VerifySection(county_trust=(folder,)))
    assert verifier.load().county_certs == 0
    text = a_pass(county_issuer)
    assert not verifier.verify(text, NOW).valid
    cert = x509.load_pem_x509_certificate(county_issuer.cert.read_bytes())
    (folder / "sub").mkdir()
    (folder / "sub" / "county.der").write_bytes(cert.public_bytes(Encoding.DER))
    assert verifier.load().county_certs == 1  # reloaded without a new Verifier
    assert verifier.verify(text, NOW).valid
    (folder / "sub" / "county.der").unlink()
    verifier.load()
    assert verifier.verify(text, NOW).reasons == ("code.unknown_issuer",)


def test_bad_trust_files_are_reported_not_fatal(
    county_issuer: Issuer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "junk.pem").write_text(
        "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n"
    )
    (tmp_path / "junk.der").write_bytes(b"\x30\x03\x02\x01\x01")
    shutil.copy(county_issuer.cert, tmp_path / "good.pem")
    with caplog.at_level(logging.WARNING):
        loaded = load_trust([tmp_path, tmp_path / "missing"])
    assert len(loaded.trust) == 1 and len(loaded.problems) == 3
    assert any("junk.pem" in p for p in loaded.problems)
    assert any("missing: no such file" in p for p in loaded.problems)
    assert "trust list" in caplog.text


def test_a_pem_bundle_with_several_dcc_signers(tmp_path: Path) -> None:
    pems = []
    for name in ("CO3", "CO1", "CO12"):
        case = json.loads((DGC_ROOT / "common" / "2DCode" / "raw" / f"{name}.json").read_text())
        cert = x509.load_der_x509_certificate(base64.b64decode(case["TESTCTX"]["CERTIFICATE"]))
        pems.append(cert.public_bytes(Encoding.PEM))
    (tmp_path / "signers.pem").write_bytes(b"".join(pems))
    verifier = Verifier(VerifySection(dcc_trust=(tmp_path / "signers.pem",)))
    assert verifier.load().dcc_certs == 3
    when = datetime(2021, 5, 3, 18, tzinfo=UTC)
    for name in ("CO3", "CO1", "CO12"):
        case = json.loads((DGC_ROOT / "common" / "2DCode" / "raw" / f"{name}.json").read_text())
        assert verifier.verify(case["PREFIX"], when).valid, name


def test_subject_key_from_a_systemd_credential(county_issuer: Issuer, tmp_path: Path) -> None:
    (tmp_path / "subject_key").write_bytes(b"0123456789abcdef0123456789abcdef\n")
    section = VerifySection(
        county_trust=(county_issuer.cert,), subject_key_credential="subject_key"
    )
    verifier = Verifier(section, environ={"CREDENTIALS_DIRECTORY": str(tmp_path)})
    assert verifier.load().subject_hash
    v = verifier.verify(a_pass(county_issuer), NOW)
    assert v.subject_hash and len(v.subject_hash) == 64
    with pytest.raises(ConfigError, match=r"verify\.subject_key_credential"):
        Verifier(section, environ={}).load()


def test_hash_subject_uses_the_loaded_key(tmp_path: Path) -> None:
    """人工登记 hashes phone and ID numbers with the same key as codes' subjects."""
    from kiosk.codes.privacy import SubjectHasher

    key = b"0123456789abcdef0123456789abcdef"
    (tmp_path / "subject.key").write_bytes(key)
    verifier = Verifier(VerifySection(subject_key_file=tmp_path / "subject.key"))
    assert verifier.hash_subject("id:cn", "11010519491231002X") is None  # nothing loaded yet
    verifier.load()
    digest = verifier.hash_subject("id:cn", "11010519491231002X")
    assert digest == SubjectHasher(key)("id:cn", "11010519491231002X") and len(digest) == 64
    assert digest != verifier.hash_subject("phone:cn", "11010519491231002X")


def test_short_or_missing_subject_key_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "short").write_bytes(b"short")
    with pytest.raises(ConfigError, match="shorter than 16 bytes"):
        Verifier(VerifySection(subject_key_file=tmp_path / "short")).load()
    with pytest.raises(ConfigError, match=r"verify\.subject_key_file"):
        Verifier(VerifySection(subject_key_file=tmp_path / "absent")).load()


def test_logs_never_hold_code_text(county_issuer: Issuer, caplog: pytest.LogCaptureFixture) -> None:
    verifier = Verifier(VerifySection(county_trust=(county_issuer.cert,)))
    verifier.load()
    text = a_pass(county_issuer)
    with caplog.at_level(logging.DEBUG):
        for t in (text, text[:-3], text[:50], "HC1:" + text[4:]):
            verifier.verify(t, NOW)
    assert caplog.records and text[4:30] not in caplog.text and "张" not in caplog.text


def test_config_sections_parse_and_reject() -> None:
    config = parse(
        {"verify": {"county_trust": ["/etc/kiosk/county"], "online": {
            "url": "https://verify.county.example/v1/verify", "patterns": ["https://hc\\."],
            "credential_name": "verify_token"}},
         "policy": {"accepted_statuses": ["green", "yellow"], "max_test_age_h": 48}}
    )  # fmt: skip
    assert config.verify.online.timeout_s == 3.0 and config.policy.fever_threshold_c == 37.3
    assert config.verify.county_trust == (Path("/etc/kiosk/county"),)
    bad = [
        ({"policy": {"unverified_outcome": "pass"}}, "policy.unverified_outcome"),
        ({"policy": {"not_ready_outcome": "pass"}}, "policy.not_ready_outcome"),
        ({"policy": {"accepted_statuses": ["red"]}}, "policy.accepted_statuses"),
        ({"policy": {"accepted_statuses": []}}, "policy.accepted_statuses"),
        ({"policy": {"max_test_age_h": 36}}, "policy.max_test_age_h"),
        ({"verify": {"online": {"url": "http://insecure.example/v"}}}, "verify.online.url"),
        ({"verify": {"online": {"patterns": ["(unclosed"]}}}, "verify.online.patterns"),
        ({"verify": {"online": {"timeout_s": 0}}}, "verify.online.timeout_s"),
        ({"verify": {"online": {"credential_file": "/a", "credential_name": "b"}}}, "not both"),
    ]
    for values, key in bad:
        with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
            parse(values)


def test_online_section_defaults() -> None:
    assert OnlineVerifySection().url is None and OnlineVerifySection().timeout_s == 3.0
