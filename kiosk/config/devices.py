"""Config: the camera, the QR scanner and the thermometer (``[camera]``, ``[scanner]``,
``[thermometer]``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from kiosk.confload import setting


@dataclass(frozen=True)
class CameraSection:
    """Where frames come from: one source, chosen by ``source``, with that source's keys."""

    source: Literal["picamera2", "opencv", "replay", "synthetic"] = setting(
        "picamera2",
        doc="picamera2 (Raspberry Pi camera), opencv (V4L2/USB), replay (files) or synthetic",
    )
    width: int = setting(640, doc="frame width in pixels", min=160, max=4096)
    height: int = setting(480, doc="frame height in pixels", min=120, max=3072)
    fps: float = setting(
        15.0, doc="frames per second asked of the camera, or replay pace", min=0.5, max=120
    )
    camera_num: int = setting(0, doc="picamera2: which camera (0 = the first)", min=0, max=7)
    frame_format: Literal["RGB888", "YUV420"] = setting(
        "RGB888",
        doc="picamera2: main stream format; YUV420 (luma first, chroma when yellow is in "
        "view) is cheaper but its half-resolution chroma loses some small yellow codes "
        "(docs/benchmarks.md, Pi camera frame)",
    )
    device: str = setting(
        "0", doc="opencv: camera index or device path such as /dev/video0", pattern=r"\d+|/\S+"
    )
    fourcc: str = setting(
        "MJPG",
        doc='opencv: pixel format to ask for ("" = driver default)',
        pattern=r"[A-Z0-9 ]{4}|",
    )
    reconnect_min_s: float = setting(
        0.5, doc="opencv: first wait before reopening a lost camera", min=0.05, max=60
    )
    reconnect_max_s: float = setting(
        10.0, doc="opencv: longest wait between reopen attempts", min=0.1, max=600
    )
    replay_path: Path | None = setting(
        None, doc="replay: image file, folder of images or video file"
    )
    replay_loop: bool = setting(False, doc="replay: start again at the end instead of stopping")
    synthetic_seed: int = setting(1, doc="synthetic: seed of the simulated scene", min=0, max=2**31)

    def __post_init__(self) -> None:
        if self.source == "replay" and self.replay_path is None:
            raise ValueError('camera.replay_path is required when camera.source = "replay"')
        if self.reconnect_min_s > self.reconnect_max_s:
            raise ValueError("camera.reconnect_min_s must not exceed camera.reconnect_max_s")


@dataclass(frozen=True)
class ScannerSection:
    """How frames become codes: decoder, rate limit and de-duplication."""

    decoder: Literal["auto", "zxing", "pyzbar"] = setting(
        "auto", doc="auto (zxing-cpp + ZBar + colour-aware passes), zxing or pyzbar alone"
    )
    dedupe_window_s: float = setting(
        5.0,
        doc="the same code again within this many seconds is not reported again",
        min=0,
        max=3600,
    )
    max_decode_hz: float = setting(
        15.0,
        doc="decode at most this many frames per second; the rest are dropped",
        min=0.5,
        max=120,
    )
    queue_size: int = setting(
        4, doc="codes waiting for the checkpoint; more are dropped, not queued", min=1, max=64
    )


_BAUDS = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600)


def _baud(value: int) -> str | None:
    listed = ", ".join(str(b) for b in _BAUDS)
    return None if value in _BAUDS else f"expected a standard baud rate ({listed}), got {value}"


def _function(value: int) -> str | None:
    return None if value in (3, 4) else f"expected 3 or 4, got {value}"


@dataclass(frozen=True)
class ThermometerSection:
    """The serial infrared thermometer, its protocol and the reading filter's thresholds."""

    protocol: Literal["gy-mcu90614", "lu90614", "modbus", "ascii", "cjmcu66"] = setting(
        "gy-mcu90614", doc="wire protocol (cjmcu66 is experimental, unverified on hardware)"
    )
    port: str = setting(
        "/dev/ttyUSB0",
        doc="serial port; prefer a stable /dev/serial/by-id/... path",
        pattern=r"\S+",
    )
    baud: int = setting(9600, doc="baud rate (8N1)", check=_baud)
    gy_mode: Literal["continuous", "query"] = setting(
        "continuous", doc="gy-mcu90614: module streams frames, or answers one query per poll"
    )
    lu_mode: Literal["object", "body"] = setting(
        "object", doc="lu90614: raw object temperature, or the module's own (opaque) body mode"
    )
    cjmcu_order: Literal["object-ambient", "ambient-object"] = setting(
        "object-ambient", doc="cjmcu66: which of the two values is the object temperature"
    )
    cjmcu_checksum: Literal["data", "frame"] = setting(
        "data", doc="cjmcu66: checksum over the four data bytes or over the whole frame"
    )
    poll_interval_s: float = setting(
        0.2,
        doc="query/Modbus modes: time between polls (modules allow at most 10 Hz)",
        min=0.1,
        max=5.0,
    )
    silence_s: float = setting(
        2.0,
        doc="no valid frame for this long = not ready (a GPIO UART unplug is silent)",
        min=0.5,
        max=60.0,
    )
    reconnect_min_s: float = setting(0.5, doc="first retry after an unplug", min=0.05, max=60.0)
    reconnect_max_s: float = setting(5.0, doc="longest retry interval", min=0.05, max=300.0)
    modbus_preset: Literal["calex", "omega", "custom"] = setting(
        "calex", doc="register map: calex (PyroUSB), omega (OS-MINI) or custom (modbus_* keys)"
    )
    modbus_unit: int = setting(
        1, doc="Modbus unit (slave) address; 255 = any single sensor", min=1, max=255
    )
    modbus_function: int | None = setting(
        None, doc="3 (holding) or 4 (input registers); default from the preset", check=_function
    )
    modbus_object_register: int | None = setting(
        None, doc="object temperature register; default from the preset", min=0, max=65535
    )
    modbus_ambient_register: int | None = setting(
        None, doc="sensor/ambient temperature register; default from the preset", min=0, max=65535
    )
    modbus_scale: float | None = setting(
        None,
        doc="°C per count (0.1 for int16 in tenths); default from the preset",
        min=1e-6,
        max=1000.0,
    )
    modbus_signed: bool | None = setting(None, doc="16-bit registers are signed (two's complement)")
    modbus_dtype: Literal["int16", "float32_be", "float32_ws"] | None = setting(
        None, doc="register data type (float32 spans two registers; _ws = word-swapped)"
    )
    modbus_timeout_s: float = setting(0.3, doc="Modbus reply timeout", min=0.05, max=5.0)
    offset_c: float = setting(
        0.0,
        doc="compensation added to the raw forehead median (see docs/thermometers.md)",
        min=-3.0,
        max=5.0,
    )
    presence_delta_c: float = setting(
        2.0, doc="someone is there when object - ambient >= this", min=0.5, max=15.0
    )
    presence_min_c: float = setting(
        30.0, doc="lowest raw object value taken as a person", min=20.0, max=40.0
    )
    presence_max_c: float = setting(
        43.0, doc="highest raw object value taken as a person", min=35.0, max=50.0
    )
    presence_grace_s: float = setting(
        0.3, doc="presence lost for longer than this ends the measurement", min=0.0, max=5.0
    )
    plausible_min_c: float = setting(
        34.0,
        doc="a stable compensated value below this (hair, hat) is never decision-grade",
        min=25.0,
        max=37.0,
    )
    stable_samples: int = setting(5, doc="samples in a stable window", min=2, max=50)
    stable_spread_c: float = setting(
        0.3, doc="largest max - min inside a stable window", min=0.05, max=2.0
    )
    ambient_min_c: float = setting(
        16.0, doc="below this ambient the sensor is not ready", min=-20.0, max=30.0
    )
    ambient_max_c: float = setting(
        40.0, doc="above this ambient the sensor is not ready", min=20.0, max=60.0
    )
    ambient_rate_max_c_per_min: float = setting(
        0.5, doc="ambient drifting faster than this (°C/min) = not ready", min=0.05, max=20.0
    )
    ambient_fallback_c: float | None = setting(
        None,
        doc="room temperature assumed for modules without an ambient value (lu90614)",
        min=10.0,
        max=35.0,
    )

    def __post_init__(self) -> None:
        if self.reconnect_min_s > self.reconnect_max_s:
            raise ValueError(
                "thermometer.reconnect_min_s must not exceed thermometer.reconnect_max_s"
            )
        if self.presence_min_c >= self.presence_max_c:
            raise ValueError("thermometer.presence_min_c must be below thermometer.presence_max_c")
        if self.ambient_min_c >= self.ambient_max_c:
            raise ValueError("thermometer.ambient_min_c must be below thermometer.ambient_max_c")
        if self.modbus_preset == "custom" and self.modbus_object_register is None:
            raise ValueError(
                'thermometer.modbus_object_register is required when modbus_preset = "custom"'
            )
