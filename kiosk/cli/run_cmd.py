"""``kiosk run --config F``: the kiosk service (what systemd starts)."""

from __future__ import annotations

import argparse
from pathlib import Path

from kiosk.app import Kiosk
from kiosk.cli import Commands, Context
from kiosk.config import load


def register(commands: Commands) -> None:
    run = commands.add(
        "run", "run the kiosk: camera, thermometer, checkpoint, uplink, screen", _run
    )
    run.add_argument("--config", type=Path, required=True, help="TOML config file")


def _run(args: argparse.Namespace, ctx: Context) -> int:
    config = load(args.config)
    return Kiosk(config, ctx.stop).run()
