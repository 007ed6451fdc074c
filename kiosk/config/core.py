"""Config: who the kiosk is and where it keeps its state (``[kiosk]``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kiosk.confload import setting

ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"
CREDENTIAL_NAME = r"[A-Za-z0-9_.-]+"


@dataclass(frozen=True)
class KioskSection:
    """Who this kiosk is and where it keeps its state."""

    id: str = setting(
        "k-001", doc="kiosk id: in topics, the MQTT client id and every entry", pattern=ID_PATTERN
    )
    site: str = setting("demo", doc="site (venue) id recorded in every entry", pattern=ID_PATTERN)
    state_dir: Path = setting(Path("/var/lib/kiosk"), doc="directory holding ledger.sqlite")
    retention_days: int = setting(
        21, doc="delivered entries older than this are purged", min=1, max=3650
    )
