"""``county revoke``, ``county revocations publish`` and ``county trust publish``: sign the
county's lists for kiosks and publish them retained (a thin layer over ``county.lists``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from county.config import load
from county.lists import ListError, Register, Signed, publish
from kiosk.cli import Commands, Context
from kiosk.cli.output import emit
from kiosk.model import parse_utc, utc_iso


def register(commands: Commands) -> None:
    revoke = commands.add(
        "revoke", "revoke a subject's passes or one pass; sign and publish the list", _revoke
    )
    revoke.add_argument("--config", type=Path, required=True, help="TOML config file")
    which = revoke.add_mutually_exclusive_group(required=True)
    which.add_argument("--subject", help="the passes' subject key (sub), never an ID number")
    which.add_argument("--pass-id", help="one pass's id (cti) as hex")
    revoke.add_argument("--reason", required=True, help="why (kept by the county only)")
    revoke.add_argument(
        "--issued-before", type=parse_utc, help="revoke passes issued before this (default now)"
    )
    revoke.add_argument("--no-publish", action="store_true", help="sign and keep, do not publish")
    revocations = commands.group("revocations", "the county's revocation list")
    again = revocations.add(
        "publish", "sign the revocation list anew (fresh issue time) and publish it", _republish
    )
    again.add_argument("--config", type=Path, required=True, help="TOML config file")
    trust = commands.group("trust", "the county's trust list of issuer certificates")
    send = trust.add("publish", "sign the trust list of lists.trust_certs and publish it", _trust)
    send.add_argument("--config", type=Path, required=True, help="TOML config file")


def _finish(args: argparse.Namespace, signed: Signed, publish_it: bool = True) -> int:
    config = load(args.config)
    doc = {
        "list": signed.list,
        "issued_at": utc_iso(signed.issued_at),
        "entries": signed.entries,
        "bytes": len(signed.payload),
        "topic": signed.topic,
        "published": False,
    }
    if publish_it:
        try:
            publish(config, signed)
        except ListError as exc:
            emit(doc)
            print(f"county {signed.list}: {exc}", file=sys.stderr)
            return 1
        doc["published"] = True
    emit(doc)
    return 0


def _revoke(args: argparse.Namespace, _ctx: Context) -> int:
    register = Register(load(args.config))
    try:
        signed = register.revoke(args.subject, args.pass_id, args.reason, args.issued_before)
    except ValueError as exc:
        print(f"county revoke: {exc}", file=sys.stderr)
        return 2
    except ListError as exc:
        print(f"county revoke: {exc}", file=sys.stderr)
        return 1
    return _finish(args, signed, not args.no_publish)


def _republish(args: argparse.Namespace, _ctx: Context) -> int:
    try:
        signed = Register(load(args.config)).sign_revocations()
    except ListError as exc:
        print(f"county revocations publish: {exc}", file=sys.stderr)
        return 1
    return _finish(args, signed)


def _trust(args: argparse.Namespace, _ctx: Context) -> int:
    try:
        signed = Register(load(args.config)).sign_trust()
    except ListError as exc:
        print(f"county trust publish: {exc}", file=sys.stderr)
        return 1
    return _finish(args, signed)
