"""The kiosk's side of the county's receipts: keep ``confirmed_seq``, re-send what is missing."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from kiosk.uplink.outbox import Outbox
from kiosk.uplink.wire import Receipt, ReceiptError, SeqRange, parse_receipt

logger = logging.getLogger(__name__)

#: Entries re-queued for one receipt at most; the county's next receipt asks for the rest.
REQUEUE_LIMIT = 5000
#: Unanswered follow-up re-sends back off up to this many doublings of ``resend_after_s``.
MAX_BACKOFF_DOUBLINGS = 7


class ReceiptKeeper:
    """Reads receipts arriving on the kiosk's own receipt topic (owned by the publisher thread).

    A receipt for another topic or kiosk, a malformed one or one older than the receipt already
    kept is ignored (with a log line). Otherwise it is saved in the ledger, and every entry it
    lists as missing whose outbox rows are gone is queued again from the entries table. A
    given ``seq`` is queued again at most once per ``resend_after_s``: the county's receipts
    (about one a second, and the retained one again on every reconnect) cannot start a storm.

    ``follow_up()`` covers what no new receipt will report: a re-send lost again, and a lost
    tail (entries above everything the county has seen, so it cannot know they exist). It
    re-sends both from the kept receipt, each time waiting twice as long while no newer
    receipt arrives (up to 2^7 x ``resend_after_s``).
    """

    def __init__(self, kiosk_id: str, topic: str, resend_after_s: float) -> None:
        self._kiosk = kiosk_id
        self._topic = topic
        self._resend_after_s = resend_after_s
        self._resent: dict[int, float] = {}  # seq -> monotonic time it was last queued again
        self._quiet_until = 0.0  # no follow-up re-send before this (monotonic)
        self._doublings = 0

    def handle(self, outbox: Outbox, topic: str, payload: bytes, now: float) -> Receipt | None:
        """Act on one arrived message; the receipt when it was kept, else None.

        Raises ``StorageError`` when the ledger cannot be written (the retained receipt
        comes again on the next connection).
        """
        if topic != self._topic:
            logger.warning("ignored a message on %s (not this kiosk's receipt topic)", topic)
            return None
        try:
            receipt = parse_receipt(payload)
        except ReceiptError as exc:
            logger.warning("ignored a malformed receipt: %s", exc)
            return None
        if receipt.kiosk != self._kiosk:
            logger.warning("ignored a receipt for kiosk %r on this kiosk's topic", receipt.kiosk)
            return None
        if not outbox.save_receipt(receipt):
            logger.info("ignored a receipt older than the one kept")
            return None
        self._doublings, self._quiet_until = 0, now + self._resend_after_s
        if receipt.missing:
            requeued = self._requeue(outbox, receipt.missing, now)
            logger.info(
                "county confirmed up to #%d, misses %d; re-sending %d from the ledger",
                receipt.confirmed_seq,
                receipt.missing_seqs(),
                len(requeued),
            )
        return receipt

    def follow_up(self, outbox: Outbox, now: float) -> int:
        """Call when the uplink is idle: re-send what the kept receipt still lacks (its missing
        ranges and the tail above them) once the back-off allows; returns how many."""
        if self._quiet_until == 0.0:  # just started: let the retained receipt arrive first
            self._quiet_until = now + self._resend_after_s
        if now < self._quiet_until:
            return 0
        kept, last = outbox.kept_receipt(self._kiosk)
        if kept is None:
            return 0  # no county has answered yet: nothing says what it lacks
        ranges = list(kept.missing)
        seen = max([kept.confirmed_seq, *(b for _a, b in kept.missing)])
        if seen < last:
            ranges.append((seen + 1, last))
        requeued = self._requeue(outbox, ranges, now) if ranges else []
        if requeued:
            self._doublings = min(self._doublings + 1, MAX_BACKOFF_DOUBLINGS)
            logger.warning(
                "county still lacks %d entries (confirmed up to #%d, last #%d); re-sent them",
                len(requeued),
                kept.confirmed_seq,
                last,
            )
        self._quiet_until = now + self._resend_after_s * 2**self._doublings
        return len(requeued)

    def _requeue(self, outbox: Outbox, ranges: Sequence[SeqRange], now: float) -> list[int]:
        self._forget(now)
        requeued = outbox.requeue(self._kiosk, ranges, self._recently_resent, REQUEUE_LIMIT)
        for seq in requeued:
            self._resent[seq] = now
        return requeued

    def _recently_resent(self, seq: int) -> bool:
        return seq in self._resent

    def _forget(self, now: float) -> None:
        """Drop re-send times older than the interval (keeps the map bounded)."""
        horizon = now - self._resend_after_s
        self._resent = {seq: at for seq, at in self._resent.items() if at > horizon}
