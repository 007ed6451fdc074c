"""The EU DCC sets through the real ``kiosk verify`` command.

The whole shared dgc-testdata set (text and every QR image) runs through the CLI's own
``main`` in one Python process, each case with its own signer and clock; a sample runs in
fresh ``python -m kiosk`` processes and must print the same. The DCCs signed here
(tests/dcc_support.py) go through one ``kiosk verify -`` process at their exact expiry
second and one a second later.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kiosk.codes import dcc
from kiosk.codes.cose import claims_of, parse_sign1
from kiosk.codes.envelope import unwrap
from kiosk.codes.hcert import dgc_of
from kiosk.model import utc_iso
from tests.codes_support import DgcCase, load_dgc_cases
from tests.dcc_support import EXP, generated_dccs, masked_from_nam, name_parts, signers

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
# Runs each argv through kiosk.cli.main in this one process; after each, a marker line with
# the exit code and what the command wrote to stderr.
BATCH = """
import contextlib, io, json, sys
from kiosk.cli import main
for argv in json.load(sys.stdin):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = main(argv)
    print(json.dumps({"__rc__": rc, "stderr": err.getvalue()}), flush=True)
"""
SAMPLE = ("AT/1", "DE/1", "common/CO1", "common/CO5", "common/DGC2", "common/CO17", "common/Q1")


def _argv(case: DgcCase, folder: Path, *what: str) -> list[str]:
    cert = folder / f"{case.name.replace('/', '-')}.der"
    cert.write_bytes(case.cert_der)
    return ["verify", "--trust", str(cert), "--at", case.raw["TESTCTX"]["VALIDATIONCLOCK"], *what]


def _image(case: DgcCase, folder: Path) -> str:
    png = folder / f"{case.name.replace('/', '-')}.png"
    png.write_bytes(base64.b64decode(case.get("2DCODE")))
    return str(png)


def _run_batch(argvs: list[list[str]]) -> list[tuple[int, list[dict[str, Any]], str]]:
    proc = subprocess.run(
        [sys.executable, "-c", BATCH],
        input=json.dumps(argvs),
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    results, docs = [], []
    for line in proc.stdout.splitlines():
        doc = json.loads(line)
        if "__rc__" in doc:
            results.append((doc["__rc__"], docs, doc["stderr"]))
            docs = []
        else:
            docs.append(doc)
    assert len(results) == len(argvs)
    return results


@pytest.fixture(scope="module")
def whole_set(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every case's text, and every case's image, through ``kiosk verify`` in one process."""
    folder = tmp_path_factory.mktemp("dgc")
    cases = load_dgc_cases()
    images = [c for c in cases if c.get("2DCODE") is not None]
    argvs = [_argv(c, folder, c.raw["PREFIX"]) for c in cases]
    argvs += [_argv(c, folder, "--image", _image(c, folder)) for c in images]
    results = _run_batch(argvs)
    return {
        "cases": cases,
        "images": images,
        "argvs": argvs,
        "text": dict(zip([c.name for c in cases], results[: len(cases)], strict=True)),
        "image": dict(zip([c.name for c in images], results[len(cases) :], strict=True)),
    }


def _problems_with_text(case: DgcCase, rc: int, docs: list[dict[str, Any]]) -> list[str]:
    if rc != 0 or len(docs) != 1:
        return [f"exit {rc}, {len(docs)} documents"]
    (doc,) = docs
    flags = {k: v for k, v in case.expected.items() if k != "EXPECTEDPICTUREDECODE"}
    false = [k for k, v in flags.items() if not v]
    if not false:
        nam = dgc_of(claims_of(parse_sign1(unwrap(case.raw["PREFIX"], dcc.PREFIX))))["nam"]
        printed = json.dumps(doc, ensure_ascii=False)
        want = {"valid": True, "status": "green", "reasons": [], "kind": "eu-dcc"}
        problems = [f"{k}={doc[k]!r}" for k, v in want.items() if doc[k] != v]
        if doc["masked_name"] != masked_from_nam(nam):
            problems.append(f"masked_name {doc['masked_name']!r} != {masked_from_nam(nam)!r}")
        problems += [f"name field {p!r} printed" for p in name_parts(nam) if p in printed]
        return problems
    allowed = set().union(*(STAGE_REASONS.get(k, ALL_REASONS) for k in false))
    if doc["valid"] is not False or doc["status"] not in ("failed", "expired"):
        return [f"valid={doc['valid']} status={doc['status']} although {false} are false"]
    if not set(doc["reasons"]) & allowed:
        return [f"reasons {doc['reasons']} fit none of {false}"]
    if not (doc["messages"][0]["zh"] and doc["messages"][0]["en"]):
        return ["no reason texts"]
    return []


def test_whole_set_text_through_kiosk_verify(whole_set: dict[str, Any]) -> None:
    """Every case of the shared set agrees with its own EXPECTEDRESULTS (false: refused for
    the stage's reason; all true: green, exact masked name, no name field printed)."""
    problems = {}
    for case in whole_set["cases"]:
        rc, docs, _ = whole_set["text"][case.name]
        found = _problems_with_text(case, rc, docs)
        if found:
            problems[case.name] = found
    assert len(whole_set["cases"]) == 49  # every raw file of the shared set (AT, DE, IT, common)
    assert not problems


def test_whole_set_images_through_kiosk_verify(whole_set: dict[str, Any]) -> None:
    """Each case's QR image prints exactly what its PREFIX text prints, or (Q1) is unreadable."""
    assert len(whole_set["images"]) == 13  # the cases that carry a 2DCODE image
    for case in whole_set["images"]:
        rc, docs, stderr = whole_set["image"][case.name]
        if case.expected.get("EXPECTEDPICTUREDECODE") is False:
            assert rc == 1 and "cannot read image" in stderr, case.name
            continue
        assert rc == 0 and docs == whole_set["text"][case.name][1], case.name


def test_a_sample_in_fresh_processes_prints_the_same(whole_set: dict[str, Any]) -> None:
    """``python -m kiosk verify`` started afresh gives what the one-process run gave."""
    index = {c.name: i for i, c in enumerate(whole_set["cases"])}
    for name in SAMPLE:
        argv = whole_set["argvs"][index[name]]
        proc = subprocess.run([*KIOSK, *argv], capture_output=True, text=True, timeout=60)
        rc, docs, _ = whole_set["text"][name]
        assert proc.returncode == rc == 0, proc.stderr
        assert [json.loads(line) for line in proc.stdout.splitlines()] == docs, name
    q1 = next(c for c in whole_set["images"] if c.name == "common/Q1")
    argv = whole_set["argvs"][len(whole_set["cases"]) + whole_set["images"].index(q1)]
    proc = subprocess.run([*KIOSK, *argv], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "cannot read image" in proc.stderr


def _verify_generated(trust: Path, seconds: int) -> subprocess.CompletedProcess[str]:
    at = utc_iso(datetime.fromtimestamp(seconds, UTC))
    texts = "\n".join(c.text for c in generated_dccs()) + "\n"
    args = [*KIOSK, "verify", "--trust", str(trust), "--at", at, "-"]
    return subprocess.run(args, input=texts, capture_output=True, text=True, timeout=60)


def test_generated_dccs_through_kiosk_verify(tmp_path: Path) -> None:
    """Each DCC signed here gives the reference result at its exact expiry second (``exp``
    itself is valid) and is expired one second later; masked names only."""
    trust = signers().write_trust(tmp_path / "trust")
    at_exp, later = _verify_generated(trust, EXP), _verify_generated(trust, EXP + 1)
    assert at_exp.returncode == later.returncode == 0, at_exp.stderr + later.stderr
    cases = generated_dccs()
    docs = [json.loads(line) for line in at_exp.stdout.splitlines()]
    after = [json.loads(line) for line in later.stdout.splitlines()]
    assert len(docs) == len(after) == len(cases)
    for case, doc, doc_after in zip(cases, docs, after, strict=True):
        assert {k: doc.get(k) for k in case.expected} == case.expected, (case.name, case.why)
        if case.authentic:
            assert doc["masked_name"] == masked_from_nam(case.nam), case.name
            assert (doc_after["status"], doc_after["reasons"]) == ("expired", ["code.expired"])
        else:
            assert doc_after == doc, case.name
    for case in cases:
        for part in name_parts(case.nam):
            assert part not in at_exp.stdout and part not in later.stdout, (case.name, part)


def test_country_pngs_decode_to_verifiable_dccs() -> None:
    """The AT, DE and IT folders' own PNGs: each holds an HC1 code that our decoder reads."""
    root = Path(__file__).parents[1] / "data" / "dgc-testdata"
    pngs = sorted(root.glob("*/png/*.png")) + sorted(root.glob("*/2DCode/png/*.png"))
    assert len(pngs) == 12
    from kiosk.codes.qrimage import read_qr_texts

    for png in pngs:
        (text,) = read_qr_texts(png)
        assert text.startswith("HC1:"), png
