"""``county ingest`` (the worker) and ``county kiosks`` (one JSON line per kiosk)."""

from __future__ import annotations

import argparse
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from county.app import run_ingest
from county.config import load
from county.store import open_store
from kiosk.cli import Commands, Context
from kiosk.cli.output import emit


def register(commands: Commands) -> None:
    ingest = commands.add(
        "ingest", "receive the kiosks' feed through the shared subscription and store it", _ingest
    )
    ingest.add_argument("--config", type=Path, required=True, help="TOML config file")
    kiosks = commands.add("kiosks", "one JSON line per kiosk: progress, gaps, backlog", _kiosks)
    kiosks.add_argument("--config", type=Path, required=True, help="TOML config file")


def _ingest(args: argparse.Namespace, ctx: Context) -> int:
    return run_ingest(load(args.config), ctx.stop)


def _kiosks(args: argparse.Namespace, _ctx: Context) -> int:
    config = load(args.config)
    store = open_store(config)
    store.open()
    try:
        rows = store.kiosks()
    finally:
        store.close()
    horizon = datetime.now(UTC) - timedelta(seconds=config.ingest.offline_after_s)
    for row in rows:
        # online: its last availability document said so and it was heard from recently
        # (a kiosk refreshes its retained state every 30 s)
        heard = row.last_seen is not None and row.last_seen >= horizon
        emit(replace(row, online=row.online and heard).to_dict())
    return 0
