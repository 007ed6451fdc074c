"""``kiosk config check FILE``: print the effective config (secrets masked) or every error."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kiosk.cli import Commands, Context
from kiosk.cli.output import emit
from kiosk.config import Config, ConfigError, load
from kiosk.confload import reference


def register(commands: Commands) -> None:
    check = commands.group("config", "configuration tools").add(
        "check", "validate a config file and print the effective config", _check
    )
    check.add_argument("file", type=Path, help="TOML config file, e.g. /etc/kiosk/kiosk.toml")
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
    up = config.uplink
    if up.enabled and up.plaintext_credentials:
        print(
            f"WARNING 警告: the MQTT user name and password go in clear text to "
            f"{up.host}:{up.port} (uplink.allow_plaintext_password = true); anyone on the path "
            "can read them. Prefer uplink.tls.enabled = true.",
            file=sys.stderr,
        )
    emit(config.describe())
    return 0


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


def _reference(_args: argparse.Namespace, _ctx: Context) -> int:
    sys.stdout.write(reference_markdown())
    return 0
