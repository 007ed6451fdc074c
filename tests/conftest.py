"""Shared test setup: where the test data lives, and skipping Pi-camera tests off a Pi."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


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
