"""When each kiosk's receipt is due: at most one per interval, and one more once it settles.

Several workers may write the same kiosk; each publishes receipts for the kiosks it wrote,
reading the progress from the database at publish time. The extra receipt one interval after a
kiosk's last write makes the retained receipt end on the final state even if two workers'
receipts crossed on the way to the broker. Pure: times are passed in.
"""

from __future__ import annotations

from collections.abc import Iterable


class ReceiptSchedule:
    """Tracks, per kiosk, when the last receipt went out and when the next is due."""

    def __init__(self, interval_s: float) -> None:
        self.interval = interval_s
        self._sent: dict[str, float] = {}
        self._touched: dict[str, float] = {}
        self._due: dict[str, float] = {}

    def touched(self, kiosks: Iterable[str], now: float) -> None:
        """These kiosks' sequence runs changed at ``now``."""
        for kiosk in kiosks:
            self._touched[kiosk] = now
            earliest = max(now, self._sent.get(kiosk, float("-inf")) + self.interval)
            self._due[kiosk] = min(self._due.get(kiosk, earliest), earliest)

    def due(self, now: float) -> list[str]:
        """Kiosks whose receipt should go out now; they count as sent at ``now``."""
        ready = sorted(k for k, t in self._due.items() if t <= now)
        for kiosk in ready:
            del self._due[kiosk]
            self._sent[kiosk] = now
            settle = self._touched[kiosk] + self.interval
            if settle > now:
                self._due[kiosk] = settle
        return ready

    def next_due(self) -> float | None:
        return min(self._due.values(), default=None)

    def pending(self) -> list[str]:
        """Every kiosk with a receipt still to send (flushed on shutdown)."""
        return sorted(self._due)
