"""The ``county`` command: config check, errors naming the key and its source."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.county_support import county_cmd
from tests.helpers import REPO, write_config

pytestmark = pytest.mark.integration


def test_config_check_prints_the_effective_config() -> None:
    done = county_cmd("config", "check", str(REPO / "examples" / "county.toml"))
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["broker"]["share_group"] == "ingest"
    assert doc["database"]["url"].startswith("sqlite:///")


def test_config_errors_name_key_and_source(tmp_path: Path) -> None:
    path = write_config(tmp_path / "county.toml", {"broker": {"port": 70000}})
    done = subprocess.run(
        [sys.executable, "-m", "county", "config", "check", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COUNTY_INGEST__BATCH_ROWS": "lots"},
        check=False,
    )
    assert done.returncode == 1
    assert "broker.port: expected an integer 1-65535, got 70000 (county.toml)" in done.stderr
    assert "ingest.batch_rows: expected an integer >= 1" in done.stderr
    assert "(env COUNTY_INGEST__BATCH_ROWS)" in done.stderr


def test_ingest_with_a_broken_config_exits_1(tmp_path: Path) -> None:
    path = write_config(tmp_path / "county.toml", {"database": {"url": "mysql://x"}})
    done = county_cmd("ingest", "--config", str(path))
    assert done.returncode == 1
    assert "config error: database.url" in done.stderr
