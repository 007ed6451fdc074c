"""Config: how the service watches its own workers (``[service]``)."""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.confload import setting


@dataclass(frozen=True)
class ServiceSection:
    """The supervisor: when a worker counts as stalled, and how often it may be restarted."""

    stale_after_s: float = setting(
        10.0, doc="a worker that made no progress for this long is restarted", min=2, max=600
    )
    restart_budget: int = setting(
        3, doc="restarts of one worker allowed within restart_window_s; then the service exits "
        "non-zero so systemd restarts it", min=0, max=100,
    )  # fmt: skip
    restart_window_s: float = setting(
        600.0, doc="the window the restart budget counts in", min=10, max=86400
    )
    health_interval_s: float = setting(
        1.0, doc="how often health is collected (and the watchdog fed)", min=0.1, max=30
    )
