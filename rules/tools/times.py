"""Virtual times in rule tests: absolute ISO 8601 times and offsets like ``+5m`` from a start.

Examples:
    >>> parse_offset_ms("+1d2h"), parse_offset_ms("90s"), parse_offset_ms("+0s")
    (93600000, 90000, 0)
    >>> parse_offset_ms("soon") is None
    True
    >>> start = to_ms("2026-03-02T09:00:00+08:00")
    >>> resolve_at("+2h", start) - start
    7200000
    >>> show_at(start + 5_400_000, start)
    '2026-03-02T10:30:00+08:00 (+1h30m)'
    >>> resolve_at("+2h", None)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: offset '+2h' needs a 'start:' time in the test, like start: '2026-03-02T09:00:00...'
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from envelope.events import InvalidEvent, parse_ts_ms
from envelope.time import UNITS_MS, iso, parse_duration_ms


def parse_offset_ms(raw: Any) -> int | None:
    """``'+1h30m'`` -> 5400000; None when ``raw`` is not a duration (a leading + is optional).

    The grammar is :func:`envelope.time.parse_duration_ms`'s; zero is allowed.
    """
    text = str(raw).strip()
    if text in ("0", "+0"):
        return 0
    return parse_duration_ms(text.removeprefix("+"), allow_zero=True)


def to_ms(value: Any) -> int:
    """An absolute time (ISO 8601 text with an offset, or a YAML timestamp) -> epoch ms."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"time {value} needs a UTC offset, like '2026-03-02T09:00:00+08:00'")
        return int(value.timestamp() * 1000)
    if isinstance(value, date):
        raise ValueError(f"time {value} is a date: write a time like '{value}T09:00:00+08:00'")
    try:
        return parse_ts_ms(value)
    except InvalidEvent as exc:
        raise ValueError(str(exc)) from None


def resolve_at(value: Any, start_ms: int | None) -> int:
    """An ``at:`` value: an offset from ``start_ms`` or an absolute time."""
    offset = None if isinstance(value, datetime | date) else parse_offset_ms(value)
    if offset is None:
        return to_ms(value)
    if start_ms is None:
        raise ValueError(
            f"offset '{value}' needs a 'start:' time in the test, "
            "like start: '2026-03-02T09:00:00+08:00'"
        )
    return start_ms + offset


def show_offset(ms: int) -> str:
    """Milliseconds as a compact duration: ``5400000`` -> ``1h30m``.

    >>> show_offset(0), show_offset(86_400_000 + 1500)
    ('0s', '1d1s500ms')
    """
    if ms == 0:
        return "0s"
    sign, ms = ("-", -ms) if ms < 0 else ("", ms)
    parts = []
    for unit in ("d", "h", "m", "s", "ms"):
        n, ms = divmod(ms, UNITS_MS[unit])
        if n:
            parts.append(f"{n}{unit}")
    return sign + "".join(parts)


def show_at(ms: int, start_ms: int | None = None) -> str:
    """A time as ISO 8601 (UTC+8), with its offset from the test's start when there is one."""
    text = iso(ms)
    if start_ms is None:
        return text
    delta = ms - start_ms
    return f"{text} ({'+' if delta >= 0 else ''}{show_offset(delta)})"
