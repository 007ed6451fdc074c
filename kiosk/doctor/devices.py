"""``kiosk doctor``'s device checks: verification set-up, camera, thermometer (with a protocol
and baud probe), broker (``kiosk.doctor.broker``) and the gate's GPIO outputs."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kiosk.config import CameraSection, Config, ConfigError, ThermometerSection
from kiosk.doctor import uart
from kiosk.doctor.broker import check_broker
from kiosk.doctor.findings import FAIL, OK, WARN, Finding, Options
from kiosk.model import Reading
from kiosk.sensors.base import ParserStats

__all__ = [
    "check_broker",
    "check_camera",
    "check_gate",
    "check_thermometer",
    "check_verification",
    "probe_candidates",
]

BLACK_MEAN = 8.0  # mean pixel value below which frames are taken as black

#: What the probe tries when the configured protocol is silent, in this order.
VARIANTS: tuple[dict[str, Any], ...] = (
    {"protocol": "gy-mcu90614", "gy_mode": "continuous"},
    {"protocol": "gy-mcu90614", "gy_mode": "query"},
    {"protocol": "lu90614", "lu_mode": "object"},
    {"protocol": "ascii"},
    {"protocol": "modbus", "modbus_preset": "calex"},
    {"protocol": "modbus", "modbus_preset": "omega"},
    {"protocol": "cjmcu66"},
)
PROBE_BAUDS = (9600, 115200, 19200, 38400, 57600, 4800)
PROBE_LISTEN_S = 0.6


def check_verification(cfg: Config, env: Mapping[str, str]) -> Finding:
    """Trust lists load, the subject key and online token can be read."""
    from kiosk.codes.verifier import Verifier

    verifier = Verifier(cfg.verify, kiosk_id=cfg.kiosk.id, environ=env)
    try:
        report = verifier.load()
    except ConfigError as exc:
        return Finding(
            FAIL,
            "; ".join(str(p) for p in exc.problems),
            "密钥文件 / put the secret in /etc/kiosk/credentials/NAME (LoadCredential=), "
            "or run as root; --credentials DIR",
        )
    detail = (
        f"{report.county_certs} county and {report.dcc_certs} EU DCC certificates; "
        f"subject key {'loaded' if report.subject_hash else 'none'}; "
        f"online service {'on' if report.online else 'off'}"
    )
    if report.county_certs + report.dcc_certs == 0 and not report.online:
        return Finding(
            FAIL,
            detail + ": no code can be verified, nobody passes",
            "证书 / put issuer certificates in the verify.county_trust / dcc_trust folders",
        )
    if report.problems:
        return Finding(WARN, f"{detail}; {'; '.join(report.problems[:3])}", "replace those files")
    if not report.subject_hash:
        return Finding(
            WARN,
            detail + ": entries carry no subject hash",
            "install-pi.sh makes /etc/kiosk/credentials/subject_key; set "
            'verify.subject_key_credential = "subject_key"',
        )
    return Finding(OK, detail)


CAMERA_HINTS = {
    "picamera2": "检查排线 / check the ribbon cable; rpicam-hello --list-cameras; is the kiosk "
    "user in group video? stop kiosk.service first (it holds the camera)",
    "opencv": "检查USB摄像头 / v4l2-ctl --list-devices; camera.device; group video; stop "
    "kiosk.service first (it holds the camera)",
    "replay": "camera.replay_path must name pictures, a folder of them or a video",
    "synthetic": "the synthetic camera needs nothing: report this as a bug",
}


def check_camera(camera: CameraSection, stop: threading.Event, seconds: float) -> Finding:
    """The configured source delivers frames within ``seconds``."""
    from kiosk.scanner.base import EndOfStream
    from kiosk.scanner.factory import make_source

    hint = CAMERA_HINTS[camera.source]
    source = make_source(camera, stop)
    started = time.monotonic()
    try:
        source.open()
    except (OSError, RuntimeError, ImportError, IndexError, ValueError) as exc:
        return Finding(FAIL, f"{camera.source}: cannot open: {exc}", hint)
    frames, shape, mean = 0, (0, 0), 0.0
    try:
        while frames < 3 and time.monotonic() - started < seconds and not stop.is_set():
            try:
                frame = source.read()
            except EndOfStream:
                break
            if frame is None:
                stop.wait(0.05)
                continue
            frames += 1
            shape, mean = frame.image.shape[:2], float(frame.image.mean())
    finally:
        source.close()
    took = time.monotonic() - started
    if frames == 0:
        return Finding(FAIL, f"{camera.source}: no frame in {took:.1f} s", hint)
    detail = f"{camera.source}: {frames} frames {shape[1]}x{shape[0]} in {took:.2f} s"
    if mean < BLACK_MEAN:
        return Finding(WARN, f"{detail}, but black (mean {mean:.0f})", "lens cap? light? 镜头盖")
    return Finding(OK, f"{detail}, mean brightness {mean:.0f}")


def describe_port_setup(section: ThermometerSection) -> str:
    mode = {"gy-mcu90614": f" ({section.gy_mode})", "lu90614": f" ({section.lu_mode})"}
    preset = f" ({section.modbus_preset})" if section.protocol == "modbus" else ""
    return f"{section.protocol}{mode.get(section.protocol, '')}{preset} at {section.baud} baud"


def listen(section: ThermometerSection, seconds: float, want: int) -> tuple[
    list[Reading], ParserStats, OSError | None
]:  # fmt: skip
    """Open the port as configured and collect up to ``want`` readings within ``seconds``."""
    from kiosk.sensors.links import make_link

    link = make_link(section)
    readings: list[Reading] = []
    try:
        link.open()
    except OSError as exc:
        return readings, link.stats, exc
    try:
        deadline = time.monotonic() + seconds
        while len(readings) < want and time.monotonic() < deadline:
            readings += link.read()
    except OSError as exc:
        return readings, link.stats, exc
    finally:
        link.close()
    return readings, link.stats, None


def probe_candidates(section: ThermometerSection) -> list[ThermometerSection]:
    """Every protocol variant at the configured baud, then at the other common bauds;
    the configured combination itself is left out."""
    bauds = [section.baud, *(b for b in PROBE_BAUDS if b != section.baud)]
    found: list[ThermometerSection] = []
    for baud in bauds:
        for variant in VARIANTS:
            candidate = dataclasses.replace(section, baud=baud, **variant)
            if describe_port_setup(candidate) != describe_port_setup(section):
                found.append(candidate)
    return found


def _plausible(readings: list[Reading]) -> bool:
    return len(readings) >= 2 and all(-20.0 <= r.object_c <= 120.0 for r in readings)


def port_hint(exc: OSError, port: str) -> str:
    text = str(exc).lower()
    if "lock" in text or "busy" in text:
        return "端口被占用 / in use: by kiosk.service? sudo systemctl stop kiosk, then retry"
    if "permission" in text:
        return "权限 / add the kiosk user to group dialout (install-pi.sh does)"
    return (
        f"接上测温仪 / plug it in; ls -l /dev/serial/by-id/ and set thermometer.port "
        f"(now {port}); a GPIO UART needs raspi-config nonint do_serial_hw 0"
    )


def check_thermometer(section: ThermometerSection, options: Options) -> Finding:
    """Readings arrive with the configured protocol; if not, probe the others. The console
    conflict is judged by the tty the port really is on this board (kiosk.doctor.uart)."""
    root = options.root
    try:
        console = uart.console_on(section.port, (root / "proc/cmdline").read_text(), root)
    except OSError:
        console = None
    if console is not None:
        tty = uart.resolve_tty(section.port, root)
        return Finding(
            FAIL,
            f"the kernel console (console={console}) is on the thermometer's UART "
            f"{section.port} ({tty})",
            "关闭串口控制台 / sudo raspi-config nonint do_serial_cons 1, then reboot",
        )
    note = uart.debug_connector_note(section.port, root)
    setup = describe_port_setup(section)
    readings, stats, error = listen(section, options.thermometer_s, want=5)
    if error is not None and not readings:
        hint = note or port_hint(error, section.port)
        return Finding(FAIL, f"{section.port}: {error}", hint)
    if readings:
        last = readings[-1]
        ambient = "" if last.ambient_c is None else f", ambient {last.ambient_c:.1f} °C"
        detail = (
            f"{len(readings)} readings ({setup}): object {last.object_c:.1f} °C{ambient}; "
            f"{stats.checksum_errors} checksum, {stats.frame_errors} frame errors"
        )
        bad = stats.checksum_errors + stats.frame_errors
        if bad * 10 > stats.frames:
            return Finding(WARN, detail, "噪声 / noisy line: check ground, cable length, baud")
        return Finding(OK, detail)
    silent = f"no readings from {section.port} with {setup} in {options.thermometer_s:.0f} s"
    if note is not None:
        return Finding(FAIL, silent, note)
    if not options.probe:
        return Finding(FAIL, silent, "check wiring (TX↔RX), protocol and baud; or probe")
    hit = _probe(section, options.probe_budget_s)
    if hit is None:
        return Finding(
            FAIL,
            f"{silent}; no supported protocol answered at {', '.join(map(str, PROBE_BAUDS))}",
            "接线 / check power, TX↔RX crossed, 3.3 V levels; docs/thermometers.md",
        )
    found, sample = hit
    keys = [f'thermometer.protocol = "{found.protocol}"', f"thermometer.baud = {found.baud}"]
    if found.protocol == "gy-mcu90614":
        keys.append(f'thermometer.gy_mode = "{found.gy_mode}"')
    if found.protocol == "modbus":
        keys.append(f'thermometer.modbus_preset = "{found.modbus_preset}"')
    return Finding(
        FAIL,
        f"{silent}; but {describe_port_setup(found)} answers ({sample.object_c:.1f} °C)",
        "改配置 / set " + ", ".join(keys),
    )


def _probe(
    section: ThermometerSection, budget_s: float
) -> tuple[ThermometerSection, Reading] | None:
    """The first candidate that yields plausible readings within the budget. Probing sends
    each protocol's commands, which may switch a module's mode; the kiosk sets it again on
    start."""
    deadline = time.monotonic() + budget_s
    for candidate in probe_candidates(section):
        if time.monotonic() >= deadline:
            return None
        readings, _stats, error = listen(candidate, PROBE_LISTEN_S, want=3)
        if error is None and _plausible(readings):
            return candidate, readings[-1]
    return None


def check_gate(cfg: Config, root: Path = Path("/")) -> Finding:
    """The configured GPIO outputs can be claimed (left off: the doctor never opens the door)."""
    section = cfg.gate
    pins = section.pins()
    if not pins:
        return Finding(OK, "no GPIO outputs configured (no relay, buzzer or LEDs)")
    listed = ", ".join(f"{role} GPIO{pin}" for role, pin in pins.items())
    clash = [r for r, p in pins.items() if p in (14, 15)]
    if clash and uart.on_header_pins(cfg.thermometer.port, root):
        return Finding(
            FAIL,
            f"{', '.join(clash)} on GPIO14/15, the UART pins the thermometer uses",
            "换引脚 / move those outputs to other pins",
        )
    from kiosk.gate.gpio import open_outputs
    from kiosk.gate.signals import GateError

    try:
        outputs = open_outputs(section)
    except (GateError, ImportError) as exc:
        return Finding(
            FAIL,
            f"{listed}: {exc}",
            "GPIO权限 / is the kiosk user in group gpio? pins busy: stop kiosk.service first",
        )
    for output in outputs.values():
        output.close()
    return Finding(OK, f"{listed} claimed and released (left off)")
