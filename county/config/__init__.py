"""The county service's one frozen configuration, loaded from TOML with ``COUNTY_`` overrides.

The loader is the kiosk's (``kiosk.confload``): the same key checks, the same error messages
naming the key and its source, a different environment prefix.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from county.config.desk import DeskSection, FleetSection, NotifySection, TraceSection
from county.config.lists import ListsSection
from county.config.sections import BrokerSection, CountySection, DatabaseSection, IngestSection
from kiosk.config import read_secret
from kiosk.confload import (
    ConfigError,
    ConfigProblem,
    describe,
    load_file,
    parse_values,
    setting,
)

ENV_PREFIX = "COUNTY_"

__all__ = [
    "BrokerSection",
    "Config",
    "ConfigError",
    "ConfigProblem",
    "CountySection",
    "DatabaseSection",
    "DeskSection",
    "FleetSection",
    "IngestSection",
    "ListsSection",
    "NotifySection",
    "TraceSection",
    "load",
    "parse",
    "read_secret",
]


@dataclass(frozen=True)
class Config:
    """Everything the county service is told, loaded once."""

    county: CountySection = setting(factory=CountySection, doc="the county")
    broker: BrokerSection = setting(factory=BrokerSection, doc="MQTT broker of the kiosks")
    database: DatabaseSection = setting(factory=DatabaseSection, doc="where entries are stored")
    ingest: IngestSection = setting(factory=IngestSection, doc="batches and receipts")
    lists: ListsSection = setting(factory=ListsSection, doc="signed lists for the kiosks")
    desk: DeskSection = setting(factory=DeskSection, doc="the county desk (county web)")
    notify: NotifySection = setting(factory=NotifySection, doc="webhooks told of alerts")
    fleet: FleetSection = setting(factory=FleetSection, doc="silent kiosks")
    trace: TraceSection = setting(factory=TraceSection, doc="keys for tracing")
    source: str = field(default="defaults", compare=False, metadata={"internal": True})

    def describe(self) -> dict[str, Any]:
        """The effective config for display; secrets are masked."""
        return describe(self)


def parse(
    values: Mapping[str, Any], source: str = "dict", environ: Mapping[str, str] | None = None
) -> Config:
    """Build a Config from a TOML-shaped dict (tests use this) plus optional env overrides."""
    return parse_values(Config, values, source, environ, ENV_PREFIX)


def load(path: Path, environ: Mapping[str, str] | None = None) -> Config:
    """Read the TOML file at ``path`` and apply ``COUNTY_<SECTION>__<KEY>`` overrides."""
    return load_file(Config, path, os.environ if environ is None else environ, ENV_PREFIX)
