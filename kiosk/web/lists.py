"""Staff-page rows for the county's signed lists: the revocation list's issue time and size,
the trust list, and the last list refused (read off the updates worker's health detail)."""

from __future__ import annotations

from typing import Any

from kiosk.service.status import KioskHealth
from kiosk.web.devices import DeviceRow
from kiosk.web.present import Bi


def _detail(health: KioskHealth) -> dict[str, Any] | None:
    worker = next((w for w in health.workers if "revocations_issued_at" in w.detail), None)
    return worker.detail if worker is not None else None


def _when(iso: str) -> str:
    return iso[:19].replace("T", " ") + " UTC"  # to the second: 2026-12-01 05:00:00 UTC


def county_list_rows(health: KioskHealth) -> list[DeviceRow]:
    """Nothing when the kiosk follows no county's lists (``verify.updates.county_id`` unset)."""
    detail = _detail(health)
    if detail is None:
        return []
    rows: list[DeviceRow] = []
    issued, entries = detail.get("revocations_issued_at"), detail.get("revocation_entries")
    name = Bi("撤销名单", "Revocation list")
    stale = bool(detail.get("revocations_stale"))
    if issued is None:
        rows.append(DeviceRow(name, False, Bi("尚未收到", "not received yet")))
    else:
        when, old = _when(str(issued)), Bi(" · 已过期", " · out of date") if stale else Bi("", "")
        text = Bi(
            f"签发于 {when} · {entries} 条{old.zh}", f"issued {when} · {entries} entries{old.en}"
        )
        rows.append(DeviceRow(name, not stale, text))
    trust, certs = detail.get("trust_issued_at"), detail.get("trust_certs")
    name = Bi("信任列表", "Trust list")
    if trust is None:
        rows.append(
            DeviceRow(name, None, Bi("未收到，使用本机证书文件", "none: certificate files in use"))
        )
    else:
        when = _when(str(trust))
        rows.append(DeviceRow(name, True, Bi(f"签发于 {when} · {certs} 个证书",
                                             f"issued {when} · {certs} certificates")))  # fmt: skip
    refusal = detail.get("last_refusal")
    if isinstance(refusal, dict):
        zh, _, en = str(refusal.get("text", "")).partition(" / ")
        at, which = _when(str(refusal.get("at", ""))), str(refusal.get("list", ""))
        count = detail.get("refused", 0)
        text = Bi(f"{at} 拒收{which}名单：{zh}（共 {count} 次）",
                  f"{at} refused a {which} list: {en or zh} ({count} in all)")  # fmt: skip
        rows.append(DeviceRow(Bi("名单拒收", "Lists refused"), False, text))
    return rows
