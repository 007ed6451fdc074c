"""Helpers shared by subcommands: JSON lines on stdout."""

from __future__ import annotations

import json
import sys
from typing import Any


def emit(doc: Any) -> None:
    """One JSON document per line on stdout, flushed so pipes see it at once."""
    sys.stdout.write(json.dumps(doc, ensure_ascii=False) + "\n")
    sys.stdout.flush()
