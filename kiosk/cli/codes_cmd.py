"""``kiosk pass keygen|issue`` for county issuers and ``kiosk verify`` for any code."""

from __future__ import annotations

import argparse
import dataclasses
import os
import secrets
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from kiosk.cli import Commands, Context
from kiosk.cli.output import emit
from kiosk.codes import county
from kiosk.codes.keys import generate, load_issuer
from kiosk.codes.privacy import mask_name
from kiosk.codes.qrimage import read_qr_texts, write_qr_png
from kiosk.codes.verifier import Verifier, utc_now
from kiosk.config import Config, load
from kiosk.model import (
    CodeStatus,
    Itinerary,
    ItineraryStatus,
    PassClaims,
    RevocationCheck,
    Verification,
    parse_utc,
    utc_iso,
)
from kiosk.reasons import CODE_MISSING, describe
from kiosk.uplink.updates import restore_held


def register(commands: Commands) -> None:
    passes = commands.group("pass", "county offline passes (for issuers and testing)")
    keygen = passes.add("keygen", "create an issuer key and its certificate", _keygen)
    keygen.add_argument("--issuer", required=True, help="issuer id, e.g. the county code 330106")
    keygen.add_argument("--out", type=Path, required=True, help="folder for the key and cert")
    keygen.add_argument("--alg", choices=["ES256", "EdDSA"], default="ES256")
    keygen.add_argument("--days", type=int, default=730, help="certificate validity in days")

    issue = passes.add("issue", "sign a pass and print its text (JSON)", _issue)
    issue.add_argument("--key", type=Path, required=True, help="issuer bundle from keygen")
    issue.add_argument("--subject", required=True, help="the county's subject key (not an ID)")
    issue.add_argument("--name", required=True, help="holder's name; masked before signing")
    issue.add_argument("--status", choices=["green", "yellow", "red"], default="green")
    issue.add_argument("--status-at", type=parse_utc, help="status update time (default now)")
    issue.add_argument("--issued-at", type=parse_utc, help="issue time (default now)")
    issue.add_argument("--valid-days", type=float, default=90.0, help="validity (default 90)")
    issue.add_argument("--expires", type=parse_utc, help="expiry time instead of --valid-days")
    issue.add_argument("--test-at", type=parse_utc, help="nucleic-acid sample time")
    issue.add_argument("--test-result", choices=["negative", "positive"])
    issue.add_argument("--doses", type=int, help="vaccination doses")
    issue.add_argument(
        "--itinerary", choices=["normal", "starred"], help="itinerary card (claim it, spec 1.1)"
    )
    issue.add_argument("--itinerary-at", type=parse_utc, help="itinerary update (default now)")
    issue.add_argument("--png", type=Path, help="also write the QR code to this PNG file")
    issue.add_argument(
        "--pass-id", help="the pass id (cti), 8-32 bytes as hex; default: 16 random bytes"
    )

    verify = commands.add("verify", "verify a code's text or the QR codes in an image", _verify)
    verify.add_argument("--config", type=Path, help="TOML config (trust lists, online service)")
    verify.add_argument(
        "--trust", type=Path, action="append", default=[], help="extra trusted certs (repeat)"
    )
    verify.add_argument("--at", type=parse_utc, help="verify as of this ISO 8601 time")
    what = verify.add_mutually_exclusive_group(required=True)
    what.add_argument(
        "text", nargs="?", help="the code's text, or - to read codes from stdin, one per line"
    )
    what.add_argument("--image", type=Path, help="an image file with QR codes")


def _keygen(args: argparse.Namespace, _ctx: Context) -> int:
    now = utc_now()
    try:
        key_pem, cert_pem = generate(args.issuer, args.alg, now, args.days)
    except ValueError as exc:
        print(f"pass keygen: {exc}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    tmp = args.out / f".{args.issuer}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key_pem + cert_pem)
    issuer = load_issuer(tmp)
    stem = f"{issuer.issuer}-{issuer.kid.hex()}"
    bundle, cert = args.out / f"{stem}.key.pem", args.out / f"{stem}.crt.pem"
    tmp.rename(bundle)
    cert.write_bytes(cert_pem)
    emit(
        {
            "issuer": issuer.issuer,
            "kid": issuer.kid.hex(),
            "alg": issuer.alg,
            "bundle": str(bundle),
            "certificate": str(cert),
            "not_after": utc_iso(issuer.certificate.not_valid_after_utc),
        }
    )
    print(f"keep {bundle} secret; give {cert} to kiosks (verify.county_trust)", file=sys.stderr)
    return 0


def _issue(args: argparse.Namespace, _ctx: Context) -> int:
    try:
        key = load_issuer(args.key)
    except (OSError, ValueError) as exc:
        print(f"pass issue: {exc}", file=sys.stderr)
        return 1
    if (args.test_at is None) != (args.test_result is None):
        print("pass issue: give --test-at and --test-result together", file=sys.stderr)
        return 2
    issued = (args.issued_at or utc_now()).replace(microsecond=0)  # NumericDate: whole seconds
    itinerary = None
    if args.itinerary is not None:
        at = (args.itinerary_at or issued).replace(microsecond=0)
        itinerary = Itinerary(ItineraryStatus(args.itinerary), at)
    claims = PassClaims(
        issuer=key.issuer,
        subject_key=args.subject,
        masked_name=mask_name(args.name) or "*",
        status=CodeStatus(args.status),
        status_updated_at=args.status_at or issued,
        issued_at=issued,
        expires_at=(args.expires or issued + timedelta(days=args.valid_days)).replace(
            microsecond=0
        ),
        test_at=args.test_at,
        test_result=args.test_result,
        vaccine_doses=args.doses,
        itinerary=itinerary,
        pass_id=(args.pass_id or secrets.token_hex(16)).lower(),
    )
    try:
        text = county.issue(claims, key)
    except ValueError as exc:
        print(f"pass issue: {exc}", file=sys.stderr)
        return 2
    if args.png is not None:
        write_qr_png(text, args.png)
    emit(
        {
            "text": text,
            "issuer": key.issuer,
            "kid": key.kid.hex(),
            "masked_name": claims.masked_name,
            "pass_id": claims.pass_id,
            "issued_at": utc_iso(claims.issued_at),
            "expires_at": utc_iso(claims.expires_at),
            "png": str(args.png) if args.png else None,
        }
    )
    return 0


def _verify(args: argparse.Namespace, _ctx: Context) -> int:
    config = load(args.config) if args.config else Config()
    section = config.verify
    if args.trust:
        section = dataclasses.replace(
            section,
            county_trust=section.county_trust + tuple(args.trust),
            dcc_trust=section.dcc_trust + tuple(args.trust),
        )
    verifier = Verifier(section, kiosk_id=config.kiosk.id)
    report = verifier.load()
    for problem in report.problems:
        print(f"trust list: {problem}", file=sys.stderr)
    if section.updates.county_id is not None:
        # the county's lists the kiosk holds: is this pass revoked, is the list fresh?
        restore_held(config, verifier)
    if args.image is not None:
        try:
            texts = read_qr_texts(args.image)
        except (OSError, ValueError) as exc:
            print(f"verify: cannot read image: {exc}", file=sys.stderr)
            return 1
    else:
        lines = sys.stdin.read().splitlines() if args.text == "-" else [args.text]
        texts = [line for line in lines if line.strip()]
    if not texts:
        emit(_doc(Verification("unknown", CodeStatus.FAILED, False, (CODE_MISSING,))))
    for text in texts:
        emit(_doc(verifier.verify(text, args.at)))
    return 0


def _doc(v: Verification) -> dict[str, Any]:
    """A Verification as JSON: masked claims only, times in UTC ISO 8601, reason texts."""
    doc: dict[str, Any] = {}
    for f in dataclasses.fields(v):
        value = getattr(v, f.name)
        if isinstance(value, Itinerary):
            value = {"status": value.status.value, "updated_at": utc_iso(value.updated_at)}
        elif isinstance(value, datetime):
            value = utc_iso(value)
        elif isinstance(value, RevocationCheck):
            listed = value.list_issued_at
            value = {"revoked": value.revoked, "list_issued_at": listed and utc_iso(listed)}
        elif isinstance(value, tuple):
            value = list(value)
        doc[f.name] = value
    doc["messages"] = [{"code": r, "zh": describe(r).zh, "en": describe(r).en} for r in v.reasons]
    return doc
