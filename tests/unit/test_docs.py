"""Docs that are generated or checked from the code stay current."""

from __future__ import annotations

from pathlib import Path

from kiosk.config import load
from scripts.update_docs import COUNTY_DOC, DOC, render, render_county

ROOT = Path(__file__).resolve().parents[2]


def test_configuration_reference_matches_the_schema() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert render(text) == text, "run scripts/update_docs.py"


def test_county_configuration_reference_matches_the_schema() -> None:
    text = COUNTY_DOC.read_text(encoding="utf-8")
    assert render_county(text) == text, "run scripts/update_docs.py"


def test_example_config_is_valid() -> None:
    config = load(ROOT / "examples" / "kiosk.toml", environ={})
    assert config.kiosk.id == "k-001"
    assert config.uplink.tls.enabled is True
