"""Sequence runs, confirmed prefix and missing ranges, and when receipts are due."""

from __future__ import annotations

import pytest

from county.ingest.receipts import ReceiptSchedule
from county.store.gaps import confirmed_seq, last_seq, merge_runs, missing_ranges

Runs = list[tuple[int, int]]


@pytest.mark.parametrize(
    ("held", "seqs", "runs", "confirmed", "last", "missing"),
    [
        ([], [], [], 0, 0, []),
        ([], [1], [(1, 1)], 1, 1, []),
        ([], [1, 2, 3], [(1, 3)], 3, 3, []),
        ([], [3, 1, 2, 2, 1], [(1, 3)], 3, 3, []),  # order and duplicates do not matter
        ([], [2, 3], [(2, 3)], 0, 3, [(1, 1)]),  # 1 missing: nothing confirmed
        ([(1, 3)], [5, 6], [(1, 3), (5, 6)], 3, 6, [(4, 4)]),
        ([(1, 3), (5, 6)], [4], [(1, 6)], 6, 6, []),  # the gap heals
        ([(1, 3), (7, 9)], [5], [(1, 3), (5, 5), (7, 9)], 3, 9, [(4, 4), (6, 6)]),
        ([(1, 10)], [3, 10], [(1, 10)], 10, 10, []),  # re-deliveries change nothing
        ([(1, 2), (4, 4)], [3, 5], [(1, 5)], 5, 5, []),
        ([(5, 9)], [11, 1], [(1, 1), (5, 9), (11, 11)], 1, 11, [(2, 4), (10, 10)]),
        ([(1, 1)], [1_000_000], [(1, 1), (1_000_000, 1_000_000)], 1, 1_000_000, [(2, 999_999)]),
    ],
)
def test_runs_table(
    held: Runs, seqs: list[int], runs: Runs, confirmed: int, last: int, missing: Runs
) -> None:
    merged = merge_runs(held, seqs)
    assert merged == runs
    assert confirmed_seq(merged) == confirmed
    assert last_seq(merged) == last
    assert missing_ranges(merged) == missing


def test_missing_ranges_are_capped_lowest_first() -> None:
    runs = merge_runs([], range(1, 400, 2))  # every even number missing
    assert missing_ranges(runs, limit=5) == [(2, 2), (4, 4), (6, 6), (8, 8), (10, 10)]


def test_receipts_at_most_once_per_interval_and_once_more_after_the_last_write() -> None:
    s = ReceiptSchedule(1.0)
    s.touched(["k-1"], 10.0)
    assert s.due(10.0) == ["k-1"]  # the first one goes out at once
    s.touched(["k-1"], 10.2)
    s.touched(["k-1"], 10.5)
    assert s.due(10.9) == []  # throttled
    assert s.due(11.0) == ["k-1"]
    assert s.due(11.4) == []
    assert s.due(11.5) == ["k-1"]  # settles one interval after the last write
    assert s.due(20.0) == []
    assert s.next_due() is None


def test_receipts_per_kiosk_independent() -> None:
    s = ReceiptSchedule(1.0)
    s.touched(["a", "b"], 0.0)
    assert s.due(0.0) == ["a", "b"]
    s.touched(["b"], 0.5)
    assert s.pending() == ["a", "b"]  # both settle one interval later
    assert s.due(1.0) == ["a", "b"]
    assert s.due(1.5) == ["b"]  # only b was written again
    assert s.pending() == []
