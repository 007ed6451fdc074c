"""Shared test setup: test data, a throwaway mosquitto per test, figures to report, EU DCC
cases and county issuers, and skipping Pi-camera tests off a Pi."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kiosk.config import Config
from kiosk.service.status import StatusBoard
from kiosk.uplink.localbroker import LocalBroker
from kiosk.web import WebServer, create_app
from tests.codes_support import Issuer, load_dgc_cases, make_issuer
from tests.web_support import board_with_health

DATA = Path(__file__).parent / "data"
_REPORTS: list[str] = []


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[LocalBroker]:
    with LocalBroker(tmp_path / "broker") as running:
        yield running


@pytest.fixture
def board() -> StatusBoard:
    """A status board with a realistic, fresh health snapshot."""
    return board_with_health()


@pytest.fixture
def server(board: StatusBoard, config: Config) -> Iterator[WebServer]:
    """The web app for ``board`` on a real waitress server; each module defines ``config``."""
    app = create_app(board, config.ledger_path, config)
    with WebServer(app, "127.0.0.1", 0, threads=config.web.threads) as running:
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


def _pi_camera_present() -> bool:
    model = Path("/proc/device-tree/model")
    if not model.exists() or b"Raspberry Pi" not in model.read_bytes():
        return False
    try:
        from picamera2 import Picamera2
    except ImportError:
        return False
    return bool(Picamera2.global_camera_info())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    hardware = [item for item in items if "hardware" in item.keywords]
    if hardware and not _pi_camera_present():
        skip = pytest.mark.skip(reason="needs a Raspberry Pi with a camera (picamera2)")
        for item in hardware:
            item.add_marker(skip)


@pytest.fixture
def corpus() -> Path:
    return DATA / "qr-corpus"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "dgc_case" in metafunc.fixturenames:
        cases = load_dgc_cases()
        metafunc.parametrize("dgc_case", cases, ids=[c.name for c in cases])
    if "dgc_image_case" in metafunc.fixturenames:
        cases = [c for c in load_dgc_cases() if c.get("2DCODE") is not None]
        metafunc.parametrize("dgc_image_case", cases, ids=[c.name for c in cases])


@pytest.fixture(scope="session")
def county_issuer(tmp_path_factory: pytest.TempPathFactory) -> Issuer:
    return make_issuer(tmp_path_factory.mktemp("issuer"), "330106")


@pytest.fixture(scope="session")
def other_issuer(tmp_path_factory: pytest.TempPathFactory) -> Issuer:
    """A second county, trusted by nobody unless a test says so."""
    return make_issuer(tmp_path_factory.mktemp("other"), "330107")
