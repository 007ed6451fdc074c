"""The command line imports only what a fast command needs, and that table cannot drift."""

from __future__ import annotations

import argparse
import importlib

from kiosk.cli import COMMAND_MODULES, COMMAND_OWNERS, Commands, _command_modules, build_parser


def _top_level(module: str) -> set[str]:
    parser = argparse.ArgumentParser()
    importlib.import_module(f"kiosk.cli.{module}").register(Commands(parser))
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return set(sub.choices)


def test_command_owners_are_exactly_the_modules_that_register_the_command() -> None:
    registered = {module: _top_level(module) for module in COMMAND_MODULES}
    for command, owners in COMMAND_OWNERS.items():
        assert {m for m, names in registered.items() if command in names} == set(owners)


def test_a_fast_command_parses_as_with_every_module() -> None:
    argv = ["--log-level", "INFO", "uplink", "drain", "--config", "k.toml", "--timeout", "5"]
    assert _command_modules(argv) == ("uplink_cmd",)
    assert vars(build_parser(argv).parse_args(argv)) == vars(build_parser().parse_args(argv))
    assert _command_modules(["uplink", "--help"]) == COMMAND_MODULES
    assert _command_modules(["demo"]) == COMMAND_MODULES
    assert _command_modules([]) == COMMAND_MODULES
