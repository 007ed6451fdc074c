"""``county config check FILE``: print the effective config (secrets masked) or every error."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from county.config import ConfigError, load
from kiosk.cli import Commands, Context
from kiosk.cli.output import emit


def register(commands: Commands) -> None:
    check = commands.group("config", "configuration tools").add(
        "check", "validate a config file and print the effective config", _check
    )
    check.add_argument("file", type=Path, help="TOML config file, e.g. /etc/county/county.toml")


def _check(args: argparse.Namespace, _ctx: Context) -> int:
    try:
        config = load(args.file)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 1
    emit(config.describe())
    return 0
