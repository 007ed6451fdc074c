"""Device facts read off a ``KioskHealth`` snapshot, for the staff page and ``/metrics``.

Workers are recognised by what their ``detail`` carries, not by name: ``fps_in`` (the scan
worker's ``ScannerHealth.to_dict()``), ``last_reading`` + ``state`` (the thermometer reader's
``ThermometerHealth.to_dict()``) and ``connected`` (the uplink publisher's health).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kiosk.service.status import KioskHealth, WorkerHealth
from kiosk.web.present import Bi

LOW_DISK_BYTES = 200 * 1024 * 1024
OUTBOX_LATE_S = 600.0

_THERMO_STATES = {
    "connecting": Bi("连接中", "connecting"),
    "connected": Bi("已连接", "connected"),
    "not_ready": Bi("未就绪", "not ready"),
    "unplugged": Bi("已断开", "unplugged"),
    "stopped": Bi("已停止", "stopped"),
}


@dataclass(frozen=True)
class DeviceFacts:
    """Numbers about the devices; ``None`` where the snapshot does not say."""

    camera_fps: float | None = None
    camera_frame_age_s: float | None = None
    camera_fresh: bool | None = None
    thermometer_state: str | None = None
    thermometer_object_c: float | None = None
    thermometer_fresh: bool | None = None
    broker_connected: bool | None = None
    disk_free_bytes: int | None = None


@dataclass(frozen=True)
class DeviceRow:
    """One line of the staff page's device table; ``ok`` is None when nothing is known."""

    name: Bi
    ok: bool | None
    detail: Bi


def _find(health: KioskHealth, *keys: str) -> WorkerHealth | None:
    return next((w for w in health.workers if all(k in w.detail for k in keys)), None)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def device_facts(health: KioskHealth) -> DeviceFacts:
    camera = _find(health, "fps_in")
    thermo = _find(health, "last_reading", "state")
    uplink = _find(health, "connected")
    reading = thermo.detail.get("last_reading") if thermo else None
    return DeviceFacts(
        camera_fps=_number(camera.detail.get("fps_in")) if camera else None,
        camera_frame_age_s=_number(camera.detail.get("last_frame_age_s")) if camera else None,
        camera_fresh=camera.fresh if camera else None,
        thermometer_state=str(thermo.detail["state"]) if thermo else None,
        thermometer_object_c=(
            _number(reading.get("object_c")) if isinstance(reading, dict) else None
        ),
        thermometer_fresh=thermo.fresh if thermo else None,
        broker_connected=bool(uplink.detail["connected"]) if uplink else None,
        disk_free_bytes=health.disk_free_bytes,
    )


def human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def device_rows(
    facts: DeviceFacts,
    pending: int | None,
    oldest_age_s: float | None,
    parked: int | None,
    *,
    receipts: bool = False,
    confirmed_seq: int | None = None,
) -> list[DeviceRow]:
    """The device table of the staff page (outbox figures come from the ledger itself).

    With ``receipts`` on, a row shows the county's ``confirmed_seq`` (None before the first).
    """
    unknown = Bi("无数据", "no data")
    rows: list[DeviceRow] = []
    if facts.camera_fresh is None:
        rows.append(DeviceRow(Bi("摄像头", "Camera"), None, unknown))
    else:
        fps, age = facts.camera_fps or 0.0, _seconds(facts.camera_frame_age_s)
        text = Bi(
            f"{fps:.1f} 帧/秒 · 最后一帧 {age} 秒前", f"{fps:.1f} fps · last frame {age} s ago"
        )
        rows.append(DeviceRow(Bi("摄像头", "Camera"), facts.camera_fresh, text))
    if facts.thermometer_state is None:
        rows.append(DeviceRow(Bi("测温仪", "Thermometer"), None, unknown))
    else:
        state = _THERMO_STATES.get(
            facts.thermometer_state, Bi(facts.thermometer_state, facts.thermometer_state)
        )
        value = facts.thermometer_object_c
        shown = "-" if value is None else f"{value:.1f} °C"
        text = Bi(f"{state.zh} · 最近读数 {shown}", f"{state.en} · last reading {shown}")
        ok = facts.thermometer_state == "connected" and facts.thermometer_fresh is not False
        rows.append(DeviceRow(Bi("测温仪", "Thermometer"), ok, text))
    if facts.broker_connected is None:
        rows.append(DeviceRow(Bi("县平台", "County broker"), None, unknown))
    elif facts.broker_connected:
        rows.append(DeviceRow(Bi("县平台", "County broker"), True, Bi("已连接", "connected")))
    else:
        rows.append(DeviceRow(Bi("县平台", "County broker"), False, Bi("未连接", "not connected")))
    if pending is None:
        rows.append(DeviceRow(Bi("待上传", "Outbox"), None, unknown))
    else:
        age = _seconds(oldest_age_s)
        text = Bi(
            f"{pending} 条待上传 · 最早 {age} 秒 · 被拒 {parked or 0} 条",
            f"{pending} pending · oldest {age} s · {parked or 0} refused",
        )
        ok = not parked and (oldest_age_s is None or oldest_age_s < OUTBOX_LATE_S)
        rows.append(DeviceRow(Bi("待上传", "Outbox"), ok, text))
    if receipts:
        confirmed = confirmed_seq
        if confirmed is None:
            text = Bi("尚未收到县平台回执", "no receipt from the county yet")
        else:
            text = Bi(f"县平台已确认至 #{confirmed}", f"County confirmed up to #{confirmed}")
        rows.append(DeviceRow(Bi("县平台回执", "County receipt"), confirmed is not None, text))
    if facts.disk_free_bytes is None:
        rows.append(DeviceRow(Bi("磁盘", "Disk"), None, unknown))
    else:
        free = human_bytes(facts.disk_free_bytes)
        text = Bi(f"剩余 {free}", f"{free} free")
        rows.append(DeviceRow(Bi("磁盘", "Disk"), facts.disk_free_bytes >= LOW_DISK_BYTES, text))
    return rows
