"""``kiosk run --config F``: the kiosk service (what systemd starts)."""

from __future__ import annotations

import argparse
from pathlib import Path

from kiosk.cli import Commands, Context
from kiosk.config import load
from kiosk.service.app import Kiosk, web_service
from kiosk.service.sdnotify import Notifier


def register(commands: Commands) -> None:
    run = commands.add(
        "run", "run the kiosk: camera, thermometer, checkpoint, uplink, screen", _run
    )
    run.add_argument("--config", type=Path, required=True, help="TOML config file")


def _run(args: argparse.Namespace, ctx: Context) -> int:
    config = load(args.config)
    notifier = Notifier()
    try:
        return Kiosk(config, ctx.stop, notifier=notifier, services=(web_service,)).run()
    finally:
        notifier.close()
