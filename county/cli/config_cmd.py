"""``county config check FILE`` (the effective config or every error), ``config reference``."""

from __future__ import annotations

from county.config import Config, load
from kiosk.cli import Commands
from kiosk.cli.config_cmd import register_for


def register(commands: Commands) -> None:
    register_for(commands, load, Config, "/etc/county/county.toml")
