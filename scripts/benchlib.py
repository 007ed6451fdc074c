"""Shared by the benchmarks: replace one `## Section` of docs/benchmarks.md, keep the others."""

from __future__ import annotations

import platform
import re
from datetime import UTC, datetime
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
HEADER = (
    "# Benchmarks\n\n"
    "Each section is written by its script in `scripts/`; figures are ratios against a baseline "
    "measured in the same run on the same machine, so they stay comparable across machines.\n"
)


def machine() -> str:
    return f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}"


def write_section(title: str, body: str, path: Path = BENCHMARKS) -> None:
    """Replace (or append) the section headed ``## title``."""
    text = path.read_text(encoding="utf-8") if path.exists() else HEADER
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    section = f"## {title}\n\n_Measured {stamp} on {machine()}._\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _m: section + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")
