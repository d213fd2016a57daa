"""Working days in mainland China: statutory holidays and make-up workdays, on event time.

The holiday data comes from the ``chinese-calendar`` package (kept up to date upstream
from the State Council's yearly notices); this module wraps it in a few small pure
functions over epoch milliseconds in China Standard Time (UTC+8, no daylight saving).

A year the package does not cover yet can be patched at start-up with
:func:`install_overrides` (the service reads ``RISKLOOP_CALENDAR_FILE`` with
``envelope.calendar_file.install``; this module never reads a file or a clock): the listed
holidays and make-up workdays apply, and a year with a listed day counts as covered. In a
year neither covers, Monday to Friday count as working days and the first use of each such
year logs a warning; :func:`covers` tells whether a date's year is known.

Examples:
    >>> from envelope.time import iso
    >>> eve = 1770944400000  # Fri 2026-02-13 09:00+08:00, before the Spring Festival break
    >>> iso(add_working_days(eve, 1))  # Sat 14 Feb is a make-up workday
    '2026-02-14T09:00:00+08:00'
    >>> iso(add_working_days(eve, 2))  # 15-23 Feb are holidays
    '2026-02-24T09:00:00+08:00'
    >>> is_workday(eve + 86_400_000 * 4)  # Tue 17 Feb, Spring Festival
    False
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import date, timedelta
from functools import lru_cache

import chinese_calendar

from envelope.time import DAY_MS, local_date

log = logging.getLogger(__name__)

# Installed once at start-up (``install_overrides``): date -> is a working day, and the years
# the patch covers. Guessed years are warned about once each.
_OVERRIDES: dict[date, bool] = {}
_PATCHED_YEARS: set[int] = set()
_WARNED_YEARS: set[int] = set()


def install_overrides(overrides: Mapping[date, bool]) -> None:
    """Patch the calendar: each date is a working day (True) or a holiday (False).

    Call it once at start-up, before any engine runs (``envelope.calendar_file.install``
    does, from ``RISKLOOP_CALENDAR_FILE``); a later call replaces the earlier patch. A year
    with at least one listed date counts as covered: its other days follow Monday to Friday
    without a warning.

    >>> install_overrides({date(2199, 1, 1): False})
    >>> is_workday(7226586000000), covers(date(2199, 6, 1))  # Tue 2199-01-01 09:00
    (False, True)
    >>> install_overrides({})
    """
    _OVERRIDES.clear()
    _OVERRIDES.update(overrides)
    _PATCHED_YEARS.clear()
    _PATCHED_YEARS.update(d.year for d in overrides)
    _WARNED_YEARS.clear()
    workday_on.cache_clear()


@lru_cache(maxsize=8192)
def published(day: date) -> bool | None:
    """The package's answer for ``day`` (is it a working day?), None outside its years.

    >>> published(date(2026, 2, 14)), published(date(2199, 1, 5))
    (True, None)
    """
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return None


def guessed_workday(day: date) -> bool:
    """Monday to Friday, for a day whose year nothing covers; warns once per year."""
    if day.year not in _WARNED_YEARS:
        _WARNED_YEARS.add(day.year)
        log.warning(
            "calendar: no holiday data for %d (the chinese-calendar package stops earlier and "
            "RISKLOOP_CALENDAR_FILE lists no day of it): Monday to Friday are taken as working "
            "days; add the year's holidays and make-up workdays to the calendar file",
            day.year,
        )
    return day.weekday() < 5


@lru_cache(maxsize=8192)
def workday_on(day: date) -> bool:
    """Is the local date ``day`` a working day? (The patch, then the package, then guessed.)"""
    if day in _OVERRIDES:
        return _OVERRIDES[day]
    known = published(day)
    if known is not None:
        return known
    if day.year in _PATCHED_YEARS:
        return day.weekday() < 5
    return guessed_workday(day)


def covers(day: date) -> bool:
    """Is ``day``'s year known, from the package or an installed patch? (False: guessed.)

    >>> covers(date(2026, 10, 1)), covers(date(2199, 1, 1))
    (True, False)
    """
    return day.year in _PATCHED_YEARS or published(day) is not None


def is_workday(ts_ms: int) -> bool:
    """Is the local day of ``ts_ms`` a working day (make-up Saturdays and Sundays included)?

    >>> is_workday(1759021200000)  # Sun 2025-09-28, make-up day for National Day
    True
    >>> is_workday(1759453200000)  # Fri 2025-10-03, National Day holiday
    False
    """
    return workday_on(local_date(ts_ms))


def add_working_days(ts_ms: int, n: int) -> int:
    """The same local clock time on the ``n``-th working day after the day of ``ts_ms``.

    ``n = 0`` returns ``ts_ms``; the day of ``ts_ms`` itself never counts, whether or not
    it is a working day (an application accepted on Saturday starts counting on Monday).

    >>> from envelope.time import iso
    >>> iso(add_working_days(1759194000000, 1))  # Tue 2025-09-30 09:00, then 1-8 Oct off
    '2025-10-09T09:00:00+08:00'
    >>> iso(add_working_days(1759194000000, 3))  # Sat 11 Oct is a make-up workday
    '2025-10-11T09:00:00+08:00'
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    day = local_date(ts_ms)
    return ts_ms + (add_workdays(day, n) - day).days * DAY_MS


def working_days_between(start_ms: int, end_ms: int) -> int:
    """Working days whose local date lies after the day of ``start_ms`` and up to the day of
    ``end_ms`` (0 if ``end_ms`` is on the same day or earlier).

    >>> working_days_between(1770944400000, 1771894800000)  # Fri 13 Feb .. Tue 24 Feb 2026
    2
    """
    return workdays_between(local_date(start_ms), local_date(end_ms))


def add_workdays(day: date, n: int, workday: Callable[[date], bool] = workday_on) -> date:
    """The ``n``-th working day after ``day`` (``n = 0``: ``day`` itself); ``workday`` says
    which days count (default: this module's calendar; the clue store adds its overrides).

    >>> add_workdays(date(2025, 9, 30), 1)  # then 1-8 October off
    datetime.date(2025, 10, 9)
    """
    while n > 0:
        day += timedelta(days=1)
        if workday(day):
            n -= 1
    return day


def workdays_between(start: date, end: date, workday: Callable[[date], bool] = workday_on) -> int:
    """Working days d with ``start < d <= end`` (0 when ``end <= start``).

    >>> workdays_between(date(2026, 2, 13), date(2026, 2, 24))  # Spring Festival between
    2
    """
    n, day = 0, start
    while day < end:
        day += timedelta(days=1)
        n += workday(day)
    return n
