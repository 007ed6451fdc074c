"""``county web`` (the desk), ``county user add`` and ``county kiosk-key`` (provisioning)."""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime
from pathlib import Path

from county.app import run_desk
from county.config import load
from county.desk.db import DeskDb
from county.desk.users import ROLES, add_user, check_new
from county.store import open_store
from county.trace import CountyKeys, TraceError
from kiosk.cli import Commands, Context
from kiosk.cli.output import emit


def register(commands: Commands) -> None:
    web = commands.add("web", "the county desk: alerts, fleet, ledgers, tracing", _web)
    web.add_argument("--config", type=Path, required=True, help="TOML config file")
    user = commands.add("user", "desk users: county user add NAME --role R", _user)
    user.add_argument("action", choices=["add"], help="add (or update) a user")
    user.add_argument("name", help="user name (2-32 of A-Z a-z 0-9 _ . -)")
    user.add_argument("--role", choices=ROLES, required=True, help="viewer, handler or tracer")
    user.add_argument("--config", type=Path, required=True, help="TOML config file")
    key = commands.add(
        "kiosk-key", "a kiosk's subject key, derived from the county master key", _kiosk_key
    )
    key.add_argument("kiosk", help="kiosk id")
    key.add_argument("--config", type=Path, required=True, help="TOML config file")
    key.add_argument("--out", type=Path, required=True, help="file to write (mode 0600)")


def _web(args: argparse.Namespace, ctx: Context) -> int:
    return run_desk(load(args.config), ctx.stop)


def _password() -> str:
    """Asked twice on a terminal; otherwise the first line of standard input."""
    if sys.stdin.isatty():
        first = getpass.getpass("密码 password: ")
        if first != getpass.getpass("再次输入 again: "):
            raise ValueError("the two passwords differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def _user(args: argparse.Namespace, _ctx: Context) -> int:
    config = load(args.config)
    try:
        password = _password()
        problem = check_new(args.name, args.role, password)
        if problem:
            raise ValueError(problem)
    except ValueError as exc:
        print(f"county user: {exc}", file=sys.stderr)
        return 1
    store = open_store(config)
    store.open()  # migrations
    store.close()
    db = DeskDb(config)
    try:
        created = add_user(db, args.name, args.role, password, datetime.now(UTC))
    finally:
        db.close()
    emit({"user": args.name, "role": args.role, "created": created})
    return 0


def _kiosk_key(args: argparse.Namespace, _ctx: Context) -> int:
    keys = CountyKeys.load(load(args.config))
    try:
        key = keys.kiosk_key(args.kiosk)
    except TraceError as exc:
        print(f"county kiosk-key: {exc}", file=sys.stderr)
        return 1
    args.out.touch(mode=0o600)
    args.out.write_bytes(key)
    emit({"kiosk": args.kiosk, "out": str(args.out)})
    return 0
