"""The status board: what the screen shows and how healthy the kiosk is, read by the web.

The coordinator publishes ``Screen`` states and the supervisor publishes ``KioskHealth``;
web routes only read (or wait for the next screen). Nothing here touches a device or the
database, and nothing personal is on the board beyond a masked name.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Protocol

from kiosk.model import Outcome


class Phase(StrEnum):
    """Where the visitor flow stands, as the screen shows it."""

    IDLE = "idle"  # 请出示健康码 / 请测量体温
    VERIFYING = "verifying"  # a code was read and is being checked
    MEASURING = "measuring"  # waiting for a decision-grade temperature
    DECIDED = "decided"  # 通行 / 禁止 / 请联系工作人员, for the dwell time


@dataclass(frozen=True)
class Screen:
    """One state of the kiosk screen. ``version`` grows by one with every change.

    ``frame_t``/``temperature_t``/``decided_t`` are ``time.monotonic()`` stamps (system-wide on
    Linux) of the frame that carried the code, the decision-grade temperature and the decision:
    they let a client measure decision latency. ``notices`` are reason-like codes for banners
    (``device.camera``, ``device.thermometer``, ``uplink.offline``).
    """

    version: int = 0
    phase: Phase = Phase.IDLE
    code_seen: bool = False
    temperature_state: str | None = None
    temperature_c: float | None = None
    outcome: Outcome | None = None
    reasons: tuple[str, ...] = ()
    masked_name: str | None = None
    code_status: str | None = None
    entry_seq: int | None = None
    frame_t: float | None = None
    temperature_t: float | None = None
    decided_t: float | None = None
    dwell_s: float | None = None
    notices: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "phase": self.phase.value,
            "code_seen": self.code_seen,
            "temperature_state": self.temperature_state,
            "temperature_c": self.temperature_c,
            "outcome": None if self.outcome is None else self.outcome.value,
            "reasons": list(self.reasons),
            "masked_name": self.masked_name,
            "code_status": self.code_status,
            "entry_seq": self.entry_seq,
            "frame_t": self.frame_t,
            "temperature_t": self.temperature_t,
            "decided_t": self.decided_t,
            "dwell_s": self.dwell_s,
            "notices": list(self.notices),
        }


@dataclass(frozen=True)
class WorkerHealth:
    """One supervised worker: is it making progress, and its own detail for the status page."""

    name: str
    fresh: bool
    age_s: float | None  # seconds since its last progress
    restarts: int = 0
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "fresh": self.fresh,
            "age_s": None if self.age_s is None else round(self.age_s, 3),
            "restarts": self.restarts,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class KioskHealth:
    """Everything the staff page, ``/healthz``, ``/api/status`` and ``/metrics`` show."""

    kiosk: str = ""
    site: str = ""
    version: str = ""
    started_at: str = ""  # ISO UTC
    workers: tuple[WorkerHealth, ...] = ()
    outbox: dict[str, Any] = field(default_factory=dict)  # OutboxStatus.to_dict()
    disk_free_bytes: int | None = None
    updated_t: float = 0.0  # time.monotonic() of this snapshot

    @property
    def fresh(self) -> bool:
        """True only when every worker is making progress (``/healthz`` answers 200)."""
        return bool(self.workers) and all(w.fresh for w in self.workers)

    def worker(self, name: str) -> WorkerHealth | None:
        return next((w for w in self.workers if w.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kiosk": self.kiosk,
            "site": self.site,
            "version": self.version,
            "started_at": self.started_at,
            "fresh": self.fresh,
            "workers": {w.name: w.to_dict() for w in self.workers},
            "outbox": self.outbox,
            "disk_free_bytes": self.disk_free_bytes,
        }


class StatusView(Protocol):
    """What the web may do with the board: read, or wait for the next screen."""

    def screen(self) -> Screen: ...

    def wait_screen(self, after_version: int, timeout: float) -> Screen: ...

    def health(self) -> KioskHealth: ...


class StatusBoard:
    """Thread-safe board: one writer per part (coordinator, supervisor), many readers."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._screen = Screen()
        self._health = KioskHealth()

    def show(self, **changes: Any) -> Screen:
        """Replace fields of the current screen; wakes every waiting reader."""
        with self._cond:
            self._screen = replace(self._screen, version=self._screen.version + 1, **changes)
            self._cond.notify_all()
            return self._screen

    def screen(self) -> Screen:
        with self._cond:
            return self._screen

    def wait_screen(self, after_version: int, timeout: float) -> Screen:
        """The first screen newer than ``after_version``, or the current one after ``timeout``."""
        with self._cond:
            self._cond.wait_for(lambda: self._screen.version > after_version, timeout)
            return self._screen

    def set_health(self, health: KioskHealth) -> None:
        with self._cond:
            self._health = health

    def health(self) -> KioskHealth:
        with self._cond:
            return self._health
