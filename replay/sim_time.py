"""Simulated time for the city simulator.

A simulator time is an int: seconds since 00:00 local time (Asia/Shanghai, UTC+08:00, no
daylight saving) on the start date. Day arithmetic is integer arithmetic and nothing reads
the wall clock.

Examples:
    >>> clock = SimClock("2026-03-02", days=7)
    >>> clock.iso(9 * HOUR_S + 15 * 60)
    '2026-03-02T09:15:00+08:00'
    >>> clock.is_weekend(5), clock.is_working(DAY_S + 10 * HOUR_S), clock.is_working(12 * HOUR_S)
    (True, True, False)
    >>> clock.iso(clock.next_working(4 * DAY_S + 18 * HOUR_S))  # Friday evening -> Monday
    '2026-03-09T08:30:00+08:00'
"""

from __future__ import annotations

import bisect
import math
import random
from datetime import date, timedelta

from envelope.calendar import add_workdays

MIN_S = 60
HOUR_S = 3_600
DAY_S = 86_400
# Office hours of a service hall, seconds after local midnight.
WORK_INTERVALS_S = (
    (8 * HOUR_S + 30 * MIN_S, 12 * HOUR_S),
    (13 * HOUR_S + 30 * MIN_S, 17 * HOUR_S + 30 * MIN_S),
)
# Weekend office hours carry this share of a weekday's volume.
WEEKEND_WEIGHT = 0.1
# Deadlines of applications accepted near the end reach past the data by up to this much.
HORIZON_DAYS = 40


class SimClock:
    """Calendar of the simulated period: dates, weekends and office hours."""

    def __init__(self, start: str, days: int) -> None:
        if days < 1:
            raise ValueError(f"days must be at least 1, got {days}")
        first = date.fromisoformat(start)
        self.days = days
        self.end_s = days * DAY_S
        span = [first + timedelta(days=d) for d in range(days + HORIZON_DAYS)]
        self._dates = [d.isoformat() for d in span]
        self._weekend = [d.weekday() >= 5 for d in span]
        self.work: list[tuple[int, int, float]] = []
        for d in range(len(span)):
            weight = WEEKEND_WEIGHT if self._weekend[d] else 1.0
            for a, b in WORK_INTERVALS_S:
                self.work.append((d * DAY_S + a, d * DAY_S + b, weight))
        self._work_ends = [b for _, b, _ in self.work]

    def iso(self, t: int) -> str:
        """ISO 8601 local time with offset, second precision."""
        d, rest = divmod(int(t), DAY_S)
        h, rest = divmod(rest, HOUR_S)
        m, s = divmod(rest, MIN_S)
        return f"{self._dates[d]}T{h:02d}:{m:02d}:{s:02d}+08:00"

    def add_workdays(self, t: int, n: int) -> int:
        """The same clock time on the ``n``-th working day (China's statutory calendar)
        after the day of ``t``: how a statutory time limit in working days ends.

        >>> clock = SimClock("2026-03-02", days=7)
        >>> clock.iso(clock.add_workdays(4 * DAY_S + 10 * HOUR_S, 1))  # Friday -> Monday
        '2026-03-09T10:00:00+08:00'
        """
        day = date.fromisoformat(self._dates[int(t) // DAY_S])
        return t + (add_workdays(day, n) - day).days * DAY_S

    def workday_share(self, t: int, n: int, share: float) -> int:
        """The instant ``share`` of ``n`` working days after ``t`` have passed, counted in
        working days (as a rule's stage at that share is): the whole days, then the share
        of the next one.

        >>> clock = SimClock("2026-03-02", days=7)
        >>> clock.iso(clock.workday_share(2 * DAY_S + 10 * HOUR_S, 3, 0.5))  # Wed + 1.5 days
        '2026-03-05T22:00:00+08:00'
        """
        whole, part = divmod(share * n, 1.0)
        t0 = self.add_workdays(t, int(whole))
        return t0 + round(part * (self.add_workdays(t, int(whole) + 1) - t0))

    def latest_start(self, n: int, before_s: int) -> int | None:
        """The latest instant of the period whose ``n`` working days end at or before
        ``before_s`` (a time limit ends later the later it starts); None if there is none.

        >>> clock = SimClock("2026-03-02", days=4)  # Monday to Thursday
        >>> clock.iso(clock.latest_start(3, clock.end_s - 2 * HOUR_S))  # Mon -> Thu 22:00
        '2026-03-02T22:00:00+08:00'
        >>> clock.latest_start(5, clock.end_s) is None
        True
        """
        for d in reversed(range(self.days)):
            shift_s = self.add_workdays(d * DAY_S, n) - d * DAY_S
            t = min((d + 1) * DAY_S, before_s - shift_s + 1) - 1
            if t >= d * DAY_S:
                return t
        return None

    def is_weekend(self, day: int) -> bool:
        """True for a Saturday or Sunday (day index from the start date)."""
        return self._weekend[day]

    def is_working(self, t: int) -> bool:
        """True inside office hours (weekends included: halls open at a reduced rate)."""
        i = bisect.bisect_right(self._work_ends, t)
        return i < len(self.work) and self.work[i][0] <= t

    def next_working(self, t: int) -> int:
        """``t`` if it falls in weekday office hours, else the start of the next weekday slot."""
        i = bisect.bisect_right(self._work_ends, t)
        while i < len(self.work):
            a, _, weight = self.work[i]
            if weight == 1.0:
                return max(a, t)
            i += 1
        raise ValueError("time beyond the simulated horizon")

    def sample_working(self, rng: random.Random, lo: int, hi: int) -> int | None:
        """A random instant in office hours within [lo, hi), weekends at reduced weight.

        None when [lo, hi) holds no office hours.
        """
        i = bisect.bisect_right(self._work_ends, lo)
        pieces: list[tuple[int, int]] = []
        weights: list[float] = []
        while i < len(self.work) and self.work[i][0] < hi:
            a, b, weight = self.work[i]
            a, b = max(a, lo), min(b, hi)
            if b > a:
                pieces.append((a, b))
                weights.append((b - a) * weight)
            i += 1
        if not pieces:
            return None
        a, b = rng.choices(pieces, weights)[0]
        return rng.randrange(a, b)

    def hour_coverage(self, day: int, hour: int) -> tuple[int, int] | None:
        """The office-hours part [a, b) of one clock hour, or None if it has none."""
        for a, b in WORK_INTERVALS_S:
            lo, hi = max(a, hour * HOUR_S), min(b, (hour + 1) * HOUR_S)
            if hi > lo:
                return day * DAY_S + lo, day * DAY_S + hi
        return None


def poisson(rng: random.Random, lam: float) -> int:
    """A Poisson-distributed count with mean ``lam`` (Knuth; normal approximation above 30)."""
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit = math.exp(-lam)
    k = 0
    p = rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def arrivals(rng: random.Random, a: int, b: int, rate_per_hour: float) -> list[int]:
    """Sorted Poisson arrival times in [a, b) at ``rate_per_hour``."""
    n = poisson(rng, rate_per_hour * (b - a) / HOUR_S)
    return sorted(rng.randrange(a, b) for _ in range(n))
