"""The ``county`` command: argument parsing, logging and signals; subcommands live beside it."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from county import __version__
from county.store import StoreError
from kiosk.cli import Commands, run_handler

#: Modules under ``county.cli`` whose ``register(commands)`` adds subcommands.
COMMAND_MODULES = ("config_cmd", "ingest_cmd", "desk_cmd", "lists_cmd")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="county", description="checkpoint-county: receive, store and confirm kiosk feeds"
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log level on stderr (default INFO)",
    )
    commands = Commands(parser)
    for name in COMMAND_MODULES:
        importlib.import_module(f"county.cli.{name}").register(commands)
    return parser


def main(argv: Sequence[str]) -> int:
    """Run one subcommand; 0 success, 1 failure, 2 usage error (from argparse)."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    return run_handler(args, {StoreError: "store error"})
