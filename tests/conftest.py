"""Shared fixtures: a throwaway mosquitto per test, and a place for tests to report figures."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kiosk.uplink.localbroker import LocalBroker

_REPORTS: list[str] = []


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[LocalBroker]:
    with LocalBroker(tmp_path / "broker") as running:
        yield running


@pytest.fixture
def report() -> Callable[[str], None]:
    """Record a line that is printed in the terminal summary (chaos figures and the like)."""
    return _REPORTS.append


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _REPORTS:
        terminalreporter.section("reported figures")
        for line in _REPORTS:
            terminalreporter.write_line(line)
