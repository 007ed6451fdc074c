"""``kiosk config check FILE``: print the effective config (secrets masked) or every error."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kiosk.cli import Commands, Context
from kiosk.cli.output import emit
from kiosk.config import Config, ConfigError, load
from kiosk.confload import reference


def register(commands: Commands) -> None:
    register_for(commands, load, Config, "/etc/kiosk/kiosk.toml", _warnings)


def register_for(
    commands: Commands,
    load_config: Callable[[Path], Any],
    schema: type,
    example: str,
    warnings: Callable[[Any], list[str]] = lambda _config: [],
) -> None:
    """``config check FILE`` and ``config reference`` for a service's config (the county's too)."""

    def check(args: argparse.Namespace, _ctx: Context) -> int:
        try:
            config = load_config(args.file)
        except ConfigError as exc:
            for problem in exc.problems:
                print(problem, file=sys.stderr)
            return 1
        for warning in warnings(config):
            print(warning, file=sys.stderr)
        emit(config.describe())
        return 0

    def reference_cmd(_args: argparse.Namespace, _ctx: Context) -> int:
        sys.stdout.write(reference_markdown(schema))
        return 0

    group = commands.group("config", "configuration tools")
    group.add("check", "validate a config file and print the effective config", check).add_argument(
        "file", type=Path, help=f"TOML config file, e.g. {example}"
    )
    group.add(
        "reference", "every config key with its default and meaning, as Markdown", reference_cmd
    )


def _warnings(config: Config) -> list[str]:
    up = config.uplink
    if up.enabled and up.plaintext_credentials:
        return [
            f"WARNING 警告: the MQTT user name and password go in clear text to "
            f"{up.host}:{up.port} (uplink.allow_plaintext_password = true); anyone on the path "
            "can read them. Prefer uplink.tls.enabled = true."
        ]
    return []


def reference_markdown(schema: type = Config) -> str:
    """The key tables of docs/configuration.md (or another service's), generated from the schema."""
    out: list[str] = []
    table = None
    for section, key, default, doc in reference(schema):
        if section != table:
            table = section
            out += [
                "",
                f"### `[{section}]`",
                "",
                "| key | default | meaning |",
                "| --- | --- | --- |",
            ]
        cell = doc.replace("|", r"\|")
        out.append(f"| `{key}` | `{default}` | {cell} |")
    return "\n".join(out).lstrip("\n") + "\n"
