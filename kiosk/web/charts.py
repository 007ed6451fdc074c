"""Local days and hours for the staff page, and the entries-per-hour chart as plain SVG."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta, tzinfo
from html import escape

from kiosk.model import Entry, Outcome

#: Stacking order and colours of the chart (the screen's colours).
SERIES = ((Outcome.PASS, "#1b873f"), (Outcome.REFER, "#e0a000"), (Outcome.DENY, "#c62828"))

WIDTH, HEIGHT = 720, 220
LEFT, BOTTOM, TOP = 36, 24, 12


def day_bounds(first: date, last: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """``[start of first, start of the day after last)`` in ``tz``, as aware datetimes."""
    since = datetime.combine(first, time(), tz)
    until = datetime.combine(last + timedelta(days=1), time(), tz)
    return since, until


def hourly(entries: Iterable[Entry], tz: tzinfo) -> list[dict[Outcome, int]]:
    """Entries per local hour (0-23) and outcome."""
    buckets: list[dict[Outcome, int]] = [{o: 0 for o in Outcome} for _ in range(24)]
    for entry in entries:
        buckets[entry.ts.astimezone(tz).hour][entry.decision] += 1
    return buckets


def _nice_max(value: int) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50, ... that is at least ``value``."""
    step = 1
    while True:
        for m in (1, 2, 5):
            if step * m >= value:
                return step * m
        step *= 10


def hour_chart_svg(buckets: list[dict[Outcome, int]], title: str) -> str:
    """A stacked bar per hour, y axis from zero to a round maximum; no script, no styles."""
    top = _nice_max(max((sum(b.values()) for b in buckets), default=0) or 1)
    plot_h = HEIGHT - BOTTOM - TOP
    slot = (WIDTH - LEFT) / 24
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'class="chart" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for fraction in (0.0, 0.5, 1.0):
        y = TOP + plot_h * (1 - fraction)
        label = f"{top * fraction:g}"
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH}" y2="{y:.1f}" stroke="#ccc"/>'
            f'<text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{label}</text>'
        )
    for hour, bucket in enumerate(buckets):
        x = LEFT + hour * slot + 2
        base = float(TOP + plot_h)
        for outcome, colour in SERIES:
            count = bucket[outcome]
            if not count:
                continue
            h = plot_h * count / top
            base -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{base:.1f}" width="{slot - 4:.1f}" height="{h:.1f}" '
                f'fill="{colour}" data-hour="{hour}" data-outcome="{outcome.value}" '
                f'data-count="{count}"><title>{hour:02d}:00 {outcome.value} {count}</title></rect>'
            )
        if hour % 3 == 0:
            parts.append(
                f'<text x="{x + (slot - 4) / 2:.1f}" y="{HEIGHT - 6}" text-anchor="middle" '
                f'font-size="11">{hour:02d}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)
