"""``kiosk web hash-password`` (the staff password hash) and ``kiosk web voice`` (the clips)."""

from __future__ import annotations

import argparse
import getpass
import subprocess
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
    voice = web.add(
        "voice",
        "build the screen's Mandarin voice clips with espeak-ng (local, offline) and oggenc",
        _voice,
    )
    voice.add_argument("--if-missing", action="store_true", help="build only missing clips")
    voice.add_argument(
        "--check", action="store_true", help="build nothing; decode each clip and print its RMS"
    )


def _voice(args: argparse.Namespace, _ctx: Context) -> int:
    from kiosk.web import voice

    if args.check:
        silent = 0
        for clip in voice.CLIPS:
            path = voice.clip_path(clip.name)
            rms = voice.decoded_rms(path) if path.is_file() else 0.0
            silent += rms < voice.MIN_RMS
            emit({"clip": clip.name, "text": clip.text, "file": str(path), "rms": round(rms, 4)})
        return 1 if silent else 0
    wanted = voice.missing_clips() if args.if_missing else list(voice.CLIPS)
    try:
        written = voice.build(wanted)
    except (OSError, ValueError, subprocess.SubprocessError) as exc:
        print(f"web voice: {exc}", file=sys.stderr)
        return 1
    for path in written:
        emit({"built": str(path)})
    return 0


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
