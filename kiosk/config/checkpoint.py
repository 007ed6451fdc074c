"""Config: the visitor flow at the door (``[checkpoint]``)."""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.confload import setting


@dataclass(frozen=True)
class CheckpointSection:
    """Timing of the visitor flow: pairing a code with a temperature, waiting, showing."""

    pair_window_s: float = setting(
        10.0,
        doc="a temperature taken up to this long before the code belongs to it",
        min=1,
        max=120,
    )
    measure_timeout_s: float = setting(
        10.0, doc="after the code, wait this long for a temperature, then SEE STAFF", min=1, max=120
    )
    dwell_s: float = setting(4.0, doc="how long the result stays on screen", min=0.5, max=60)
    min_dwell_s: float = setting(
        1.5, doc="the next visitor's code may end the result screen after this", min=0, max=60
    )
    repeat_window_s: float = setting(
        30.0, doc="the same code again within this many seconds of its decision is ignored",
        min=0, max=3600,
    )  # fmt: skip

    def __post_init__(self) -> None:
        if self.min_dwell_s > self.dwell_s:
            raise ValueError("checkpoint.min_dwell_s must not exceed checkpoint.dwell_s")
