"""The ``kiosk`` command: argument parsing, logging and signals; subcommands live beside it."""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import FrameType

from kiosk import __version__
from kiosk.config import ConfigError
from kiosk.service.journal import setup_logging
from kiosk.storage import StorageError

#: Modules under ``kiosk.cli`` whose ``register(commands)`` adds subcommands.
COMMAND_MODULES = (
    "config_cmd",
    "uplink_cmd",
    "demo_cmd",
    "codes_cmd",
    "scan_cmd",
    "thermometer_cmd",
    "run_cmd",
    "web_cmd",
    "doctor_cmd",
)

#: The only modules a top-level command needs, for commands that must start fast
#: (``kiosk uplink drain`` runs from scripts and timers: no numpy, scanner or Flask imports).
#: Any other command line (``--help``, a typo) imports every module.
COMMAND_OWNERS: dict[str, tuple[str, ...]] = {
    "uplink": ("uplink_cmd",),
    "outbox": ("uplink_cmd",),
    "ledger": ("uplink_cmd",),
}


@dataclass
class Context:
    """What every subcommand gets besides its arguments: the one stop event."""

    stop: threading.Event = field(default_factory=threading.Event)


Handler = Callable[[argparse.Namespace, Context], int]


class Commands:
    """A level of subcommands; ``group()`` nests another level (``kiosk simulate entries``)."""

    def __init__(self, parser: argparse.ArgumentParser, title: str = "command") -> None:
        self._sub = parser.add_subparsers(dest=title, required=True, metavar=title.upper())
        self._title = title
        self._groups: dict[str, Commands] = {}

    def add(self, name: str, help: str, handler: Handler) -> argparse.ArgumentParser:
        parser = self._sub.add_parser(name, help=help, description=help)
        parser.set_defaults(handler=handler)
        return parser

    def group(self, name: str, help: str) -> Commands:
        if name not in self._groups:
            parser = self._sub.add_parser(name, help=help, description=help)
            self._groups[name] = Commands(parser, f"{self._title}_{name}")
        return self._groups[name]


def _command_modules(argv: Sequence[str]) -> tuple[str, ...]:
    if "-h" in argv or "--help" in argv:
        return COMMAND_MODULES
    tokens = iter(argv)
    for arg in tokens:
        if arg == "--log-level":
            next(tokens, None)  # its value
        elif not arg.startswith("-"):
            return COMMAND_OWNERS.get(arg, COMMAND_MODULES)
    return COMMAND_MODULES


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The whole command line, or (given ``argv`` naming a command in ``COMMAND_OWNERS``)
    only the part that command needs."""
    parser = argparse.ArgumentParser(
        prog="kiosk", description="checkpoint-kiosk: health-code and temperature checkpoint"
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--log-level",
        default="WARNING",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log level on stderr (default WARNING)",
    )
    commands = Commands(parser)
    for name in COMMAND_MODULES if argv is None else _command_modules(argv):
        importlib.import_module(f"kiosk.cli.{name}").register(commands)
    return parser


def main(argv: Sequence[str]) -> int:
    """Run one subcommand; 0 success, 1 failure, 2 usage error (from argparse)."""
    args = build_parser(argv).parse_args(argv)
    setup_logging(args.log_level)  # journald's native socket under systemd, else stderr
    return run_handler(args, {StorageError: "storage error"})


def run_handler(args: argparse.Namespace, failures: dict[type[Exception], str]) -> int:
    """Run the parsed subcommand with SIGTERM and SIGINT setting its stop event. A config
    error, or one of ``failures`` (error type → label), is a message and exit 1."""
    context = Context()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        context.stop.set()  # nothing else: no logging, no locks in a signal handler

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    handler: Handler = args.handler
    try:
        return handler(args, context)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"config error: {problem}", file=sys.stderr)
        return 1
    except tuple(failures) as exc:
        label = next(text for kind, text in failures.items() if isinstance(exc, kind))
        print(f"{label}: {exc}", file=sys.stderr)
        return 1
