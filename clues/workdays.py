"""Deadlines in working days on China's statutory calendar, and the four supervision colours.

Pure module: every function takes the time as an argument. Working days are those of
``envelope.calendar``: the ``chinese-calendar`` package (public holidays *and* the weekend days
made into working days, 调休) under the process's calendar patch (``RISKLOOP_CALENDAR_FILE``,
installed at start-up by ``envelope.calendar_file.install``); a ``WorkCalendar``'s own
``overrides`` (date -> is working day) go on top. A year neither the package nor a patch
covers falls back to Monday to Friday, with a warning in the log, and a deadline counted
across such days is *estimated* (``WorkCalendar.estimated``): the clue says so. Deadlines
fall at the end (23:59:59.999, UTC+8) of the n-th working day after the day of dispatch, as
statutory periods count from the next day.

Colours (奎屯/宿迁-style 三色督办 plus green):

- ``red``: overdue;
- ``yellow``: due today, or behind (not signed for by the sign-for deadline);
- ``blue``: at most ``blue_days`` working days left;
- ``green``: otherwise.

Examples:
    >>> cal = WorkCalendar()
    >>> cal.is_workday(date(2026, 2, 14)), cal.is_workday(date(2026, 2, 17))  # 调休 / 春节
    (True, False)
    >>> iso_local(deadline_ms(ms_of(2026, 3, 2, 10), 15, cal))
    '2026-03-23T23:59:59.999+08:00'
    >>> cal.estimated(date(2026, 3, 2), date(2026, 3, 23))  # the package covers 2026
    False
    >>> cal.estimated(date(2199, 3, 2), date(2199, 3, 23))  # Monday to Friday guessed
    True
    >>> colour(ms_of(2026, 3, 20, 9), ms_of(2026, 3, 23, 23, 59), None, True, Terms(), cal)
    'blue'
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from envelope import calendar as statutory
from envelope.time import CST, local_date, local_datetime

GREEN, BLUE, YELLOW, RED = "green", "blue", "yellow", "red"


def ms_of(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    """Epoch ms of a local (UTC+8) wall time; for literal times in tests and docs."""
    return int(datetime(year, month, day, hour, minute, tzinfo=CST).timestamp() * 1000)


def iso_local(ms: int) -> str:
    """Epoch ms -> ISO 8601 in UTC+8 with milliseconds."""
    return local_datetime(ms).isoformat(timespec="milliseconds")


def end_of_day_ms(d: date) -> int:
    """The last millisecond of a local day."""
    start = datetime.combine(d + timedelta(days=1), time(), tzinfo=CST)
    return int(start.timestamp() * 1000) - 1


def next_midnight_ms(ms: int) -> int:
    """The first millisecond of the local day after the one ``ms`` falls in."""
    return end_of_day_ms(local_date(ms)) + 1


@dataclass(frozen=True)
class WorkCalendar:
    """Working days: ``envelope.calendar`` (package, then the installed patch), then ``overrides``.

    A year with a day in ``overrides`` counts as covered, as in the installed patch.
    """

    overrides: Mapping[date, bool] = field(default_factory=dict)

    @functools.cached_property
    def _override_years(self) -> frozenset[int]:
        return frozenset(d.year for d in self.overrides)

    def is_workday(self, d: date) -> bool:
        if d in self.overrides:
            return self.overrides[d]
        if d.year in self._override_years and not statutory.covers(d):
            return d.weekday() < 5  # a year only these overrides cover: known, not guessed
        return statutory.workday_on(d)

    def covers(self, year: int) -> bool:
        """Are ``year``'s holidays known (package, installed patch or ``overrides``)?"""
        return year in self._override_years or statutory.covers(date(year, 1, 1))

    def estimated(self, start: date, end: date) -> bool:
        """Does counting the days after ``start`` up to ``end`` cross a year nothing covers?"""
        first = (start + timedelta(days=1)).year
        return not all(self.covers(y) for y in range(first, end.year + 1))

    def add_workdays(self, d: date, n: int) -> date:
        """The n-th working day after ``d`` (n = 0: ``d`` itself)."""
        return statutory.add_workdays(d, n, self.is_workday)

    def workdays_between(self, start: date, end: date) -> int:
        """Working days d with start < d <= end (0 when end <= start)."""
        return statutory.workdays_between(start, end, self.is_workday)


@dataclass(frozen=True)
class Terms:
    """The deadline terms for one (category, risk level), snapshotted onto a clue at dispatch."""

    sign_days: int = 1  # working days to sign for (claim) the clue
    dispose_days: int = 15  # working days to verify and dispose of it
    blue_days: int = 3  # "near the deadline" threshold
    escalate_after_days: int = 3  # red this many working days -> escalate one more level
    max_extensions: int = 1
    max_extension_days: int = 15

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> Terms:
        known = {k: int(v) for k, v in (d or {}).items() if k in cls.__dataclass_fields__}
        return cls(**known)


# Anchored to the 12345 feedback limits and 《市场监督管理行政处罚程序规定》 Art. 18 (verify
# within 15 working days, one extension of 15): the business owner sets the real table.
DEFAULT_TERMS: dict[str, Terms] = {
    "critical": Terms(sign_days=0, dispose_days=5),
    "high": Terms(sign_days=1, dispose_days=10),
    "medium": Terms(sign_days=1, dispose_days=15),
    "low": Terms(sign_days=2, dispose_days=30),
    "info": Terms(sign_days=2, dispose_days=30),
}
STATUTORY_CAPS: dict[str, int] = {"market-supervision": 15}


@dataclass(frozen=True)
class DeadlinePolicy:
    """Terms per (category, risk level); category ``*`` is the fallback for any category."""

    terms: Mapping[tuple[str, str], Terms]

    def lookup(self, category: str, severity: str) -> Terms:
        for key in ((category, severity), ("*", severity), (category, "*"), ("*", "*")):
            if key in self.terms:
                return self.terms[key]
        return Terms()


def default_policy() -> DeadlinePolicy:
    """The shipped policy: ``DEFAULT_TERMS`` with statutory caps per category."""
    table: dict[tuple[str, str], Terms] = {("*", s): t for s, t in DEFAULT_TERMS.items()}
    for category, cap in STATUTORY_CAPS.items():
        for s, t in DEFAULT_TERMS.items():
            capped = min(t.dispose_days, cap)
            table[(category, s)] = Terms(**{**t.to_dict(), "dispose_days": capped})
    return DeadlinePolicy(table)


def deadline_ms(start_ms: int, workdays: int, cal: WorkCalendar) -> int:
    """End of the ``workdays``-th working day after the local day of ``start_ms``."""
    return end_of_day_ms(cal.add_workdays(local_date(start_ms), workdays))


def deadline_estimated(start_ms: int, due_ms: int, cal: WorkCalendar) -> bool:
    """Was a deadline from ``start_ms`` to ``due_ms`` counted across days the calendar guessed?"""
    return cal.estimated(local_date(start_ms), local_date(due_ms))


def extend_ms(due_ms: int, workdays: int, cal: WorkCalendar) -> int:
    """A deadline moved by ``workdays`` working days (an approved extension)."""
    return deadline_ms(due_ms, workdays, cal)


def colour(
    now_ms: int,
    due_ms: int,
    sign_due_ms: int | None,
    claimed: bool,
    terms: Terms,
    cal: WorkCalendar,
) -> str:
    """The supervision colour of a running deadline at ``now_ms``."""
    if now_ms > due_ms:
        return RED
    today, due_day = local_date(now_ms), local_date(due_ms)
    if today == due_day or (not claimed and sign_due_ms is not None and now_ms > sign_due_ms):
        return YELLOW
    if cal.workdays_between(today, due_day) <= terms.blue_days:
        return BLUE
    return GREEN


def escalation_due(
    now_ms: int, red_since_ms: int, level: int, terms: Terms, cal: WorkCalendar
) -> bool:
    """Still red ``escalate_after_days`` working days per level reached: escalate once more."""
    red_days = cal.workdays_between(local_date(red_since_ms), local_date(now_ms))
    return red_days >= terms.escalate_after_days * max(level, 1)


def next_check_ms(now_ms: int, due_ms: int, sign_due_ms: int | None, claimed: bool) -> int:
    """When a colour can next change: the next local midnight or a deadline passing."""
    candidates = [next_midnight_ms(now_ms)]
    if due_ms >= now_ms:
        candidates.append(due_ms + 1)
    if not claimed and sign_due_ms is not None and sign_due_ms >= now_ms:
        candidates.append(sign_due_ms + 1)
    return min(candidates)
