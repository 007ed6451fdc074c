"""Every case of the EU dgc-testdata subset, stage by stage, through the library API."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cbor2
import pytest
from cryptography import x509

from kiosk.codes import dcc
from kiosk.codes.cose import check_times, claims_of, numeric_date, parse_sign1
from kiosk.codes.envelope import b45decode, inflate, strip_prefix, unwrap
from kiosk.codes.errors import CodeError
from kiosk.codes.hcert import dgc_of, parse_dgc
from kiosk.codes.privacy import SubjectHasher
from kiosk.codes.qrimage import read_qr_texts
from kiosk.codes.trust import TrustList, trusted_cert, verify_any
from kiosk.config import PolicySection
from kiosk.model import CodeStatus, Outcome, Temperature, TempState
from kiosk.policy import decide
from tests.codes_support import DgcCase
from tests.dcc_support import masked_from_nam, name_parts

# Flags this verifier checks, and the flags it does not (with the reason). A case may only
# carry flags from these two sets; anything else fails the test so it cannot be missed.
CHECKED = {
    "EXPECTEDPICTUREDECODE", "EXPECTEDUNPREFIX", "EXPECTEDB45DECODE", "EXPECTEDCOMPRESSION",
    "EXPECTEDVERIFY", "EXPECTEDDECODE", "EXPECTEDVALIDJSON", "EXPECTEDEXPIRATIONCHECK",
    "EXPECTEDKEYUSAGE", "EXPECTEDSCHEMAVALIDATION", "EXPECTEDVALIDOBJECT", "EXPECTEDENCODE",
}  # fmt: skip
# Deviations: cases where a flag cannot be checked from the data the case carries.
DEVIATIONS = {
    ("common/B1", "EXPECTEDPICTUREDECODE"): "the case carries no 2DCODE image to decode",
}


def _trust(case: DgcCase) -> TrustList:
    cert = trusted_cert(x509.load_der_x509_certificate(case.cert_der), case.name)
    return TrustList({cert.kid: (cert,)})


def _norm(obj: Any) -> Any:
    """CBOR and JSON decoded alike: tags unwrapped, tuples as lists, maps as dicts."""
    if isinstance(obj, cbor2.CBORTag):
        return _norm(obj.value)
    if isinstance(obj, dict):
        return {k: _norm(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_norm(v) for v in obj]
    return obj


def _cbor_dgc(case: DgcCase) -> Any:
    """The DCC in the case's CBOR field; the DE cases put the whole CWT claims map there."""
    from kiosk.codes.cose import cbor_loads

    decoded = cbor_loads(bytes.fromhex(case.raw["CBOR"]))
    return dgc_of(decoded) if isinstance(decoded, dict) and -260 in decoded else decoded


def _stage(case: DgcCase, flag: str, tmp_path: Path) -> bool:
    """Run the stage ``flag`` names; True if it succeeded, False if it was rejected."""
    try:
        if flag == "EXPECTEDPICTUREDECODE":
            png = tmp_path / "code.png"
            import base64

            png.write_bytes(base64.b64decode(case.get("2DCODE")))
            try:
                return case.raw["PREFIX"] in read_qr_texts(png)
            except ValueError:
                return False
        if flag == "EXPECTEDUNPREFIX":
            return strip_prefix(case.raw["PREFIX"], dcc.PREFIX) == case.raw["BASE45"]
        if flag == "EXPECTEDB45DECODE":
            return b45decode(case.raw["BASE45"]) == bytes.fromhex(case.raw["COMPRESSED"])
        if flag == "EXPECTEDCOMPRESSION":
            return inflate(bytes.fromhex(case.raw["COMPRESSED"])) == bytes.fromhex(case.raw["COSE"])
        if flag == "EXPECTEDVERIFY":
            msg = parse_sign1(bytes.fromhex(case.raw["COSE"]))
            verify_any(msg, _trust(case).lookup(msg.kid))
            return True
        if flag == "EXPECTEDDECODE":
            decoded = _norm(_cbor_dgc(case))
            if "COSE" in case.raw:
                inside = dgc_of(claims_of(parse_sign1(bytes.fromhex(case.raw["COSE"]))))
                if _norm(inside) != decoded:
                    return False
            return decoded == case.raw["JSON"]
        if flag == "EXPECTEDVALIDJSON":
            cose = unwrap(case.raw["PREFIX"], dcc.PREFIX)
            return _norm(dgc_of(claims_of(parse_sign1(cose)))) == case.raw["JSON"]
        if flag == "EXPECTEDEXPIRATIONCHECK":
            claims = claims_of(parse_sign1(bytes.fromhex(case.raw["COSE"])))
            check_times(numeric_date(claims, 6), numeric_date(claims, 4), case.clock, 300)
            return True
        if flag == "EXPECTEDKEYUSAGE":
            msg = parse_sign1(bytes.fromhex(case.raw["COSE"]))
            cert = verify_any(msg, _trust(case).lookup(msg.kid))
            kind = parse_dgc(dgc_of(claims_of(msg))).kind
            return cert.usages is None or kind in cert.usages
        if flag == "EXPECTEDSCHEMAVALIDATION":
            parse_dgc(_cbor_dgc(case))
            return True
        if flag == "EXPECTEDVALIDOBJECT":
            parse_dgc(case.raw["JSON"])
            return True
        if flag == "EXPECTEDENCODE":
            ours = cbor2.loads(cbor2.dumps(case.raw["JSON"]))
            return bool(_norm(_cbor_dgc(case)) == ours)
    except (CodeError, ValueError):
        return False
    raise AssertionError(f"no stage for {flag}")


def test_every_expected_flag_holds(dgc_case: DgcCase, tmp_path: Path) -> None:
    assert dgc_case.expected, "a case without expected results"
    unknown = set(dgc_case.expected) - CHECKED
    assert not unknown, f"flags this test does not know: {unknown}"
    for flag, want in dgc_case.expected.items():
        if (dgc_case.name, flag) in DEVIATIONS:
            continue
        assert _stage(dgc_case, flag, tmp_path) is want, f"{dgc_case.name} {flag} != {want}"


def test_full_verification_agrees_with_the_flags(dgc_case: DgcCase) -> None:
    """``dcc.verify`` on the prefixed text: invalid iff some (text-reachable) flag is false."""
    flags = {k: v for k, v in dgc_case.expected.items() if k != "EXPECTEDPICTUREDECODE"}
    hasher = SubjectHasher(b"k" * 32)
    try:
        result = dcc.verify(dgc_case.raw["PREFIX"], _trust(dgc_case), dgc_case.clock, hasher)
        valid, reasons = result.valid, result.reasons
    except CodeError as exc:
        valid, reasons = False, (exc.reason,)
    if all(flags.values()):
        assert valid, f"{dgc_case.name}: {reasons}"
        assert result.status is CodeStatus.GREEN
        assert result.subject_hash and len(result.subject_hash) == 64
        # least data: the exact masked name from the case's own nam, and no name field at all
        nam = dgc_of(claims_of(parse_sign1(unwrap(dgc_case.raw["PREFIX"], dcc.PREFIX))))["nam"]
        assert result.masked_name == masked_from_nam(nam)
        printed = json.dumps(dataclasses.asdict(result), default=str, ensure_ascii=False)
        assert not [p for p in name_parts(nam) if p in printed]
    else:
        assert not valid and reasons


def test_deviations_name_real_cases() -> None:
    from tests.codes_support import load_dgc_cases

    cases = {c.name: c for c in load_dgc_cases()}
    for name, flag in DEVIATIONS:
        assert flag in cases[name].expected and cases[name].get("2DCODE") is None


@pytest.mark.parametrize("name", ["AT/3", "AT/4"])
def test_expired_tests_in_at_cases_are_denied_by_the_test_age_rule(name: str) -> None:
    """AT/3 and AT/4 say 'INVALID: test expired' with every flag true: the signature and the
    CWT are valid; the test is too old. That is policy, and the policy denies it."""
    from tests.codes_support import load_dgc_cases

    case = next(c for c in load_dgc_cases() if c.name == name)
    result = dcc.verify(case.raw["PREFIX"], _trust(case), case.clock, SubjectHasher(None))
    assert result.valid and result.test_result == "negative"
    rules = PolicySection(max_test_age_h=72)
    temp = Temperature(TempState.OK, value_c=36.5)
    decision = decide(result, temp, rules, case.clock)
    assert decision.outcome is Outcome.DENY and decision.reasons == ("test.too_old",)
    recent = decide(result, temp, rules, result.test_at + timedelta(hours=1))  # type: ignore[operator]
    assert recent.outcome is Outcome.PASS
    assert case.clock > datetime(2021, 5, 1, tzinfo=UTC)


def test_every_case_the_set_lists_is_loaded() -> None:
    """The set's own index (BasicDgcTestsList.md) links each common case; all are loaded, as
    is every raw file of every country folder: nothing of the shared set is left out."""
    import re

    from tests.codes_support import DGC_ROOT, load_dgc_cases

    names = {c.name for c in load_dgc_cases()}
    index = (DGC_ROOT / "BasicDgcTestsList.md").read_text(encoding="utf-8")
    listed = {f"common/{m}" for m in re.findall(r"\(common/2DCode/raw/(\w+)\.json\)", index)}
    assert len(listed) == 38 and listed <= names
    files = {f"{p.parts[-4]}/{p.stem}" for p in DGC_ROOT.glob("*/2DCode/raw/*.json")}
    assert files == names and {n.split("/")[0] for n in names} == {"AT", "DE", "IT", "common"}
