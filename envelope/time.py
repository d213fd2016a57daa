"""Time on the events' own clock: China Standard Time, local dates, ISO text and durations.

One of each helper for the whole project. Instants are epoch milliseconds (``ts_ms``);
nothing here reads a clock.

Durations have one grammar everywhere (rule files, rule tests, the command line): one or
more ``<whole number><unit>`` parts with the units ``ms s m h d w``. What
:func:`show_duration` prints, :func:`parse_duration_ms` reads back.

>>> parse_duration_ms("1h30m"), parse_duration_ms("1500ms"), parse_duration_ms("ten")
(5400000, 1500, None)
>>> show_duration(1500), parse_duration_ms(show_duration(1500))
('1500ms', 1500)
>>> iso(1772414100000), local_date(1772384400000)
('2026-03-02T09:15:00+08:00', datetime.date(2026, 3, 2))
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

CST = timezone(timedelta(hours=8), "CST")
DAY_MS = 86_400_000
CST_OFFSET_MS = 8 * 3_600_000  # China Standard Time is UTC+8 all year
_EPOCH = date(1970, 1, 1)

UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": DAY_MS, "w": 7 * DAY_MS}
_DURATION = re.compile(r"^(?:\d+(?:ms|s|m|h|d|w))+$")
_PART = re.compile(r"(\d+)(ms|s|m|h|d|w)")


def parse_duration_ms(raw: Any, *, allow_zero: bool = False) -> int | None:
    """``'10m'`` -> 600000, ``'1h30m'`` -> 5400000; None if ``raw`` is not a duration.

    A zero duration is None unless ``allow_zero`` (an offset of ``+0s`` in a rule test).

    >>> parse_duration_ms("90m"), parse_duration_ms("2d"), parse_duration_ms("1w2d")
    (5400000, 172800000, 777600000)
    >>> parse_duration_ms("0m"), parse_duration_ms("0m", allow_zero=True), parse_duration_ms(5)
    (None, 0, None)
    """
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    if not _DURATION.match(text):
        return None
    ms = sum(int(n) * UNITS_MS[u] for n, u in _PART.findall(text))
    return ms if ms or allow_zero else None


def show_duration(ms: int) -> str:
    """The shortest exact text for a duration: 5400000 -> '90m'.

    >>> show_duration(5_400_000), show_duration(172_800_000), show_duration(1500)
    ('90m', '2d', '1500ms')
    """
    for unit in ("w", "d", "h", "m", "s"):
        size = UNITS_MS[unit]
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def iso(ts_ms: int) -> str:
    """Epoch ms -> ISO 8601 in China Standard Time (whole seconds unless there are ms).

    >>> iso(1772414100000), iso(1772414100250)
    ('2026-03-02T09:15:00+08:00', '2026-03-02T09:15:00.250000+08:00')
    """
    return datetime.fromtimestamp(ts_ms / 1000, UTC).astimezone(CST).isoformat()


def local_datetime(ts_ms: int) -> datetime:
    """The instant as an aware datetime in China Standard Time."""
    return datetime.fromtimestamp(ts_ms / 1000, UTC).astimezone(CST)


def local_date(ts_ms: int) -> date:
    """The calendar date in China Standard Time of an instant.

    >>> local_date(1772384400000)  # 2026-03-01T17:00:00Z is already 2 March in Beijing
    datetime.date(2026, 3, 2)
    """
    return _EPOCH + timedelta(days=(ts_ms + CST_OFFSET_MS) // DAY_MS)


def local_hour(ts_ms: int) -> int:
    """Hour of the day (0-23) in China Standard Time.

    >>> local_hour(1772414100000)  # 2026-03-02T09:15:00+08:00
    9
    """
    return ((ts_ms + CST_OFFSET_MS) % DAY_MS) // 3_600_000


def local_weekday(ts_ms: int) -> int:
    """ISO weekday (1 = Monday .. 7 = Sunday) in China Standard Time.

    >>> local_weekday(1772414100000)  # Monday 2 March 2026
    1
    """
    return local_date(ts_ms).isoweekday()
