"""Per-kiosk sequence runs: which ``seq`` numbers are stored, the confirmed prefix and the gaps.

A kiosk numbers its entries 1, 2, 3, ... without gaps. The county keeps the numbers it holds as
sorted, disjoint, non-adjacent runs ``(lo, hi)``; ``confirmed_seq`` is the end of the run that
starts at 1 and every hole below the highest number seen is a missing range. Pure functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

Run = tuple[int, int]

#: A receipt lists at most this many missing ranges (the lowest first); the rest follow later.
MAX_MISSING_RANGES = 64


def merge_runs(runs: Sequence[Run], seqs: Iterable[int]) -> list[Run]:
    """The runs after adding ``seqs`` (duplicates and numbers already held change nothing)."""
    new = sorted(set(seqs))
    if not new:
        return list(runs)
    points: list[Run] = []
    start = prev = new[0]
    for seq in new[1:]:
        if seq != prev + 1:
            points.append((start, prev))
            start = seq
        prev = seq
    points.append((start, prev))
    merged: list[Run] = []
    for lo, hi in sorted([*runs, *points]):
        if merged and lo <= merged[-1][1] + 1:
            if hi > merged[-1][1]:
                merged[-1] = (merged[-1][0], hi)
        else:
            merged.append((lo, hi))
    return merged


def confirmed_seq(runs: Sequence[Run]) -> int:
    """The highest ``seq`` up to which every number from 1 is held; 0 if 1 is missing."""
    return runs[0][1] if runs and runs[0][0] <= 1 else 0


def last_seq(runs: Sequence[Run]) -> int:
    """The highest ``seq`` held; 0 if none."""
    return runs[-1][1] if runs else 0


def missing_ranges(runs: Sequence[Run], limit: int = MAX_MISSING_RANGES) -> list[Run]:
    """The holes between 1 and the highest ``seq`` held, lowest first, at most ``limit``."""
    holes: list[Run] = []
    expected = 1
    for lo, hi in runs:
        if lo > expected:
            holes.append((expected, lo - 1))
            if len(holes) >= limit:
                break
        expected = max(expected, hi + 1)
    return holes
