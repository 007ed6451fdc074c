"""``county config check FILE`` (the effective config or every error), ``config reference``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from county.config import Config, ConfigError, load
from kiosk.cli import Commands, Context
from kiosk.cli.config_cmd import reference_markdown
from kiosk.cli.output import emit


def register(commands: Commands) -> None:
    check = commands.group("config", "configuration tools").add(
        "check", "validate a config file and print the effective config", _check
    )
    check.add_argument("file", type=Path, help="TOML config file, e.g. /etc/county/county.toml")
    commands.group("config", "configuration tools").add(
        "reference", "every config key with its default and meaning, as Markdown", _reference
    )


def _check(args: argparse.Namespace, _ctx: Context) -> int:
    try:
        config = load(args.file)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 1
    emit(config.describe())
    return 0


def _reference(_args: argparse.Namespace, _ctx: Context) -> int:
    sys.stdout.write(reference_markdown(Config))
    return 0
