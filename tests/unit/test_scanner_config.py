"""The [camera] and [scanner] config sections, and the sources and decoders they select."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from kiosk.config import ConfigError, parse
from kiosk.scanner.factory import make_decoder, make_source
from kiosk.scanner.opencv import OpenCvSource
from kiosk.scanner.picamera import Picamera2Source
from kiosk.scanner.replay import ReplaySource
from kiosk.scanner.synthetic import SyntheticSource


def test_defaults() -> None:
    config = parse({})
    assert (config.camera.source, config.camera.width, config.camera.height) == (
        "picamera2",
        640,
        480,
    )
    assert (config.scanner.decoder, config.scanner.dedupe_window_s) == ("auto", 5.0)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"camera": {"source": "usb"}}, 'camera.source: expected one of "picamera2", "opencv"'),
        ({"camera": {"source": "replay"}}, "camera.replay_path is required"),
        ({"camera": {"device": "video0"}}, "camera.device: expected a string matching"),
        ({"camera": {"fps": 0}}, "camera.fps: expected a number 0.5-120, got 0"),
        ({"camera": {"reconnect_min_s": 5, "reconnect_max_s": 1}}, "must not exceed"),
        ({"scanner": {"decoder": "opencv"}}, 'scanner.decoder: expected one of "auto"'),
        ({"scanner": {"dedupe_window_s": -1}}, "scanner.dedupe_window_s: expected a number 0-3600"),
        ({"scanner": {"dedup_window_s": 3}}, 'did you mean "dedupe_window_s"?'),
    ],
)
def test_bad_values_name_the_key(values: dict[str, dict[str, object]], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(values, source="kiosk.toml")
    assert message in str(caught.value) and "(kiosk.toml)" in str(caught.value)


def test_environment_overrides() -> None:
    env = {"KIOSK_CAMERA__SOURCE": "opencv", "KIOSK_SCANNER__MAX_DECODE_HZ": "8"}
    config = parse({}, environ=env)
    assert config.camera.source == "opencv" and config.scanner.max_decode_hz == 8.0


@pytest.mark.parametrize(
    ("camera", "kind"),
    [
        ({"source": "picamera2"}, Picamera2Source),
        ({"source": "opencv", "device": "/dev/video0"}, OpenCvSource),
        ({"source": "replay", "replay_path": "/nonexistent/frames"}, ReplaySource),
        ({"source": "synthetic"}, SyntheticSource),
    ],
)
def test_source_is_built_without_touching_a_device(camera: dict[str, str], kind: type) -> None:
    source = make_source(parse({"camera": camera}).camera, threading.Event())
    assert isinstance(source, kind)  # constructors do no I/O: no camera, no file needed
    source.close()


def test_replay_of_a_missing_path_fails_on_open() -> None:
    source = make_source(
        parse({"camera": {"source": "replay", "replay_path": "/nonexistent"}}).camera,
        threading.Event(),
    )
    with pytest.raises(FileNotFoundError, match="/nonexistent"):
        source.open()
    assert not Path("/nonexistent").exists()


def test_decoder_names() -> None:
    assert [make_decoder(n).name for n in ("auto", "zxing", "pyzbar")] == [
        "auto",
        "zxing",
        "pyzbar",
    ]
    with pytest.raises(ValueError, match="unknown decoder"):
        make_decoder("opencv")
