"""Time that counts only while a feed is expected to deliver: ``open`` hours of the local
day (China Standard Time), optionally only on China's working days.

A heartbeat with ``open`` adds its ``every`` + ``grace`` in open time, so a feed that
delivers on working days 08:00-20:00 is not silent at night, at weekends or on holidays.

Examples:
    >>> from envelope.time import iso
    >>> fri_7pm = 1772794800000  # Fri 2026-03-06 19:00+08:00
    >>> iso(add_open_ms(fri_7pm, 90 * 60_000, (480, 1200), True))  # 1 h on Friday, 30 min on Monday
    '2026-03-09T08:30:00+08:00'
"""

from __future__ import annotations

from typing import Any

from envelope.calendar import workday_on
from envelope.time import DAY_MS, local_date
from rules.language.fields import Ctx, Loc, Text

_CST_MS = 8 * 3_600_000
_MIN_MS = 60_000
_MAX_DAYS = 800  # a feed closed for longer than this is never due


def parse_open(text: str) -> tuple[int, int]:
    """``"08:00-20:00"`` to minutes of the day ``(480, 1200)``; a clear error otherwise."""
    try:
        a, b = (part.strip() for part in text.split("-"))
        start, end = (int(x[:2]) * 60 + int(x[3:5]) for x in (a, b) if len(x) == 5 and x[2] == ":")
    except ValueError:
        raise ValueError(f"open hours must look like '08:00-20:00', got {text!r}") from None
    if not 0 <= start < end <= 1440:
        raise ValueError(f"open hours must start before they end within one day, got {text!r}")
    return start, end


class OpenHours(Text):
    """``"08:00-20:00"``: parsed to minutes of the local day."""

    def __init__(self) -> None:
        super().__init__(r"^\d\d:\d\d-\d\d:\d\d$", "hours like '08:00-20:00'")

    def parse(self, raw: Any, loc: Loc, ctx: Ctx) -> Any:
        text = super().parse(raw, loc, ctx)
        try:
            return parse_open(text)
        except ValueError as exc:
            raise loc.error(str(exc)) from None


def add_open_ms(ts_ms: int, dur_ms: int, hours: tuple[int, int], workdays: bool) -> int:
    """The instant ``dur_ms`` of open time after ``ts_ms``."""
    t, left = ts_ms, dur_ms
    for _ in range(_MAX_DAYS):
        day0 = (t + _CST_MS) // DAY_MS * DAY_MS - _CST_MS
        opens, closes = day0 + hours[0] * _MIN_MS, day0 + hours[1] * _MIN_MS
        if (workdays and not workday_on(local_date(day0))) or t >= closes:
            t = day0 + DAY_MS
            continue
        t = max(t, opens)
        take = min(left, closes - t)
        t, left = t + take, left - take
        if left == 0:
            return t
    return 2**62
