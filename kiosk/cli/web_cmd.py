"""``kiosk web hash-password``: the staff password hash for ``[web] staff_password_hash``."""

from __future__ import annotations

import argparse
import getpass
import sys

from kiosk.cli import Commands, Context
from kiosk.cli.output import emit

MIN_LENGTH = 8


def register(commands: Commands) -> None:
    web = commands.group("web", "kiosk screen and staff page")
    hasher = web.add(
        "hash-password",
        "read the staff password (twice on a terminal, else one line of stdin), print its hash",
        _hash_password,
    )
    hasher.add_argument(
        "--method",
        default="scrypt",
        choices=["scrypt", "pbkdf2"],
        help="hash method (default scrypt; pbkdf2 is lighter on a Pi Zero)",
    )


def _read_password() -> str | None:
    if sys.stdin.isatty():
        first = getpass.getpass("staff password / 员工密码: ")
        again = getpass.getpass("again / 再次输入: ")
        if first != again:
            print("the two passwords differ / 两次输入不一致", file=sys.stderr)
            return None
        return first
    line = sys.stdin.readline()
    return line.rstrip("\r\n")


def _hash_password(args: argparse.Namespace, _ctx: Context) -> int:
    from werkzeug.security import generate_password_hash

    password = _read_password()
    if password is None:
        return 1
    if len(password) < MIN_LENGTH:
        print(
            f"the password must have at least {MIN_LENGTH} characters / 密码至少 {MIN_LENGTH} 位",
            file=sys.stderr,
        )
        return 1
    emit({"staff_password_hash": generate_password_hash(password, method=args.method)})
    print('put it in [web] as staff_password_hash = "..."', file=sys.stderr)
    return 0
