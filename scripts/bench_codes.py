"""Benchmark code verification and the policy; write the figures to docs/benchmarks.md.

Every figure is a ratio against a baseline measured in the same run, so machines compare:
a full verification against the bare signature check it contains (what the envelope,
CBOR, trust lookup and claims cost on top of the cryptography), the policy against one
ECDSA verify, and the online verifier's time against its configured deadline.

Usage: .venv/bin/python scripts/bench_codes.py [--write]
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kiosk.codes import county  # noqa: E402
from kiosk.codes.cose import parse_sign1, verify_signature  # noqa: E402
from kiosk.codes.county_sim import CountyService, make_tls  # noqa: E402
from kiosk.codes.envelope import unwrap  # noqa: E402
from kiosk.codes.keys import generate, load_issuer  # noqa: E402
from kiosk.codes.verifier import Verifier  # noqa: E402
from kiosk.config import OnlineVerifySection, PolicySection, VerifySection  # noqa: E402
from kiosk.model import CodeStatus, PassClaims, Temperature, TempState  # noqa: E402
from kiosk.policy import decide  # noqa: E402

DGC = ROOT / "tests" / "data" / "dgc-testdata" / "common" / "2DCode" / "raw"
HEADING = "## Codes and policy"


def per_call(fn: Callable[[], object], min_time: float = 0.4) -> float:
    """Median seconds per call over 5 rounds of at least ``min_time`` each."""
    fn()
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        if time.perf_counter() - t0 >= min_time / 5:
            break
        n *= 2
    rounds = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        rounds.append((time.perf_counter() - t0) / n)
    return statistics.median(rounds)


def dcc_case(name: str, work: Path) -> tuple[Verifier, str, datetime, Callable[[], object]]:
    case = json.loads((DGC / f"{name}.json").read_text())
    der = base64.b64decode(case["TESTCTX"]["CERTIFICATE"])
    (work / f"{name}.der").write_bytes(der)
    verifier = Verifier(VerifySection(dcc_trust=(work / f"{name}.der",)))
    verifier.load()
    when = datetime.fromisoformat(case["TESTCTX"]["VALIDATIONCLOCK"].replace("Z", "+00:00"))
    msg = parse_sign1(unwrap(case["PREFIX"], "HC1:"))
    key = x509.load_der_x509_certificate(der).public_key()
    return verifier, case["PREFIX"], when, lambda: verify_signature(msg, key)  # type: ignore[arg-type]


def run() -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    now = datetime.now(UTC).replace(microsecond=0)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        key_pem, cert_pem = generate("330106", "ES256", now - timedelta(days=1), 30)
        (work / "k.pem").write_bytes(key_pem + cert_pem)
        (work / "c.pem").write_bytes(cert_pem)
        issuer = load_issuer(work / "k.pem")
        claims = PassClaims(
            "330106",
            "c2a41f0e9b7d43a8b5e6f7a8",
            "张*中",
            CodeStatus.GREEN,
            now,
            now,
            now + timedelta(days=30),
            now - timedelta(hours=5),
            "negative",
            3,
        )
        text = county.issue(claims, issuer)
        verifier = Verifier(VerifySection(county_trust=(work / "c.pem",)))
        verifier.load()
        msg = parse_sign1(unwrap(text, "CP1:"))
        bare_ecdsa = per_call(lambda: verify_signature(msg, issuer.private_key.public_key()))
        full = per_call(lambda: verifier.verify(text, now))
        rows.append(
            (
                "county pass (ES256), full verify",
                f"{full * 1e6:.0f} µs",
                f"{full / bare_ecdsa:.2f} x bare ECDSA verify ({bare_ecdsa * 1e6:.0f} µs)",
            )
        )
        for name, label in (("CO3", "EU DCC ES256"), ("CO1", "EU DCC PS256 (RSA 2048)")):
            dv, prefix, when, bare = dcc_case(name, work)
            base = per_call(bare)
            full = per_call(lambda dv=dv, p=prefix, w=when: dv.verify(p, w))  # type: ignore[misc]
            rows.append(
                (
                    f"{label}, full verify",
                    f"{full * 1e6:.0f} µs",
                    f"{full / base:.2f} x its bare signature check ({base * 1e6:.0f} µs)",
                )
            )
        garbage = "HC1:" + "A" * 400
        rej = per_call(lambda: verifier.verify(garbage, now))
        rows.append(
            (
                "rejecting 400 characters of garbage",
                f"{rej * 1e6:.1f} µs",
                f"{rej / bare_ecdsa:.3f} x bare ECDSA verify",
            )
        )
        v = verifier.verify(text, now)
        temp = Temperature(TempState.OK, value_c=36.6)
        rules = PolicySection(max_test_age_h=48, min_vaccine_doses=2)
        pol = per_call(lambda: decide(v, temp, rules, now))
        rows.append(
            (
                "policy decide()",
                f"{pol * 1e6:.1f} µs",
                f"{pol / bare_ecdsa:.3f} x bare ECDSA verify",
            )
        )
        rows += online_rows(work, now)
    return rows


def online_rows(work: Path, now: datetime) -> list[tuple[str, str, str]]:
    tls = make_tls(work / "pki")
    token = "https://hc.county.example/q/bench"  # noqa: S105 - a code, not a secret
    answer = {"status": "green", "issuer": "330106", "subject_key": "a3f9c2e141d84b6a9e0f7c21"}
    rows = []
    for mode, timeout in (("normal", 3.0), ("slow", 0.5), ("drip", 0.5), ("error", 0.5)):
        with CountyService(tls, {token: answer}, mode=mode, delay_s=30) as svc:
            online = OnlineVerifySection(
                url=svc.url, timeout_s=timeout, patterns=(r"https://hc\.",), ca_file=tls.ca_file
            )
            verifier = Verifier(VerifySection(online=online))
            verifier.load()
            times, status = [], ""
            for _ in range(10 if mode == "normal" else 3):
                t0 = time.perf_counter()
                status = verifier.verify(token, now).status.value
                times.append(time.perf_counter() - t0)
        worst = max(times)
        rows.append(
            (
                f"online token, service {mode} (timeout {timeout:g} s) → {status}",
                f"median {statistics.median(times) * 1e3:.1f} ms, worst {worst * 1e3:.1f} ms",
                f"worst = {worst / timeout:.2f} x timeout",
            )
        )
    return rows


def render(rows: list[tuple[str, str, str]]) -> str:
    lines = [
        HEADING,
        "",
        f"`scripts/bench_codes.py`, {datetime.now(UTC):%Y-%m-%d}, on this machine "
        "(2 cores). Ratios are against a baseline measured in the same run.",
        "",
        "| what | time | ratio |",
        "| --- | --- | --- |",
        *(f"| {a} | {b} | {c} |" for a, b, c in rows),
        "",
    ]
    return "\n".join(lines)


def write(section: str) -> None:
    path = ROOT / "docs" / "benchmarks.md"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n\n"
    if HEADING in text:
        start = text.index(HEADING)
        nxt = text.find("\n## ", start + len(HEADING))
        text = text[:start] + section + (text[nxt + 1 :] if nxt != -1 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text, encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    section = render(run())
    print(section)
    if args.write:
        write(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
