"""Event-time risk views for supervisors: counters by local day, read and summed per caller.

The counters are written by ``clues/lua/views.lua`` inside every clue step (one call at the
end of the prelude's ``finish``), so they follow the warnings' own event time: a month
replayed in a minute is counted on the days it happened. Reading a period costs one
``HGETALL`` per day (two with the previous period), whatever the number of clues; every
counter carries region, department and rule, so a caller sees only what their scope covers.

Days are local dates (UTC+8) numbered from 1970-01-01; a bound is ``YYYY-MM-DD`` or epoch
milliseconds (what Grafana sends as ``${__from}``).

>>> p = Period.parse("2026-03-01", "2026-03-07")
>>> p.days, str(p.previous().first), str(p.previous().last)
(7, '2026-02-22', '2026-02-28')
>>> str(Period.parse("1772413200000", "1772413200000").first)  # 2026-03-02T09:00+08:00
'2026-03-02'
>>> Period.parse("2026-03-07", "2026-03-01")
Traceback (most recent call last):
...
clues.views.BadPeriod: from 2026-03-07 is after to 2026-03-01: give from <= to
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import redis.asyncio as aioredis

from clues.access import Principal
from clues.model import ClueError
from envelope.time import local_date

SEP = "\x1f"
MAX_DAYS = 400
DEFAULT_DAYS = 30
DIMENSIONS = {"region": 1, "department": 2, "rule": 3, "severity": 4}
_EPOCH = date(1970, 1, 1)
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class BadPeriod(ClueError, ValueError):
    """A period bound that is not a date or epoch ms, reversed, or too long (HTTP 422)."""


def day_number(d: date) -> int:
    return (d - _EPOCH).days


def day_date(n: int) -> date:
    return _EPOCH + timedelta(days=n)


def parse_day(text: str, name: str) -> date:
    """A local date from ``YYYY-MM-DD`` or epoch milliseconds."""
    text = text.strip()
    if text.isdigit():
        return local_date(int(text))
    if _ISO_DAY.match(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    raise BadPeriod(f"{name} {text!r}: give a date like 2026-03-01 or epoch milliseconds")


@dataclass(frozen=True)
class Period:
    """Local days ``first`` to ``last``, both included."""

    first: date
    last: date

    @classmethod
    def parse(cls, start: str, end: str) -> Period:
        first, last = parse_day(start, "from"), parse_day(end, "to")
        if first > last:
            raise BadPeriod(f"from {first} is after to {last}: give from <= to")
        if (last - first).days + 1 > MAX_DAYS:
            raise BadPeriod(f"from {first} to {last} is over {MAX_DAYS} days: ask for less")
        return cls(first, last)

    @classmethod
    def ending(cls, last: date, days: int = DEFAULT_DAYS) -> Period:
        return cls(last - timedelta(days=days - 1), last)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def previous(self) -> Period:
        """The period of the same length just before this one."""
        return Period(self.first - timedelta(days=self.days), self.first - timedelta(days=1))

    def numbers(self) -> range:
        return range(day_number(self.first), day_number(self.last) + 1)

    def to_dict(self) -> dict[str, str]:
        return {"from": self.first.isoformat(), "to": self.last.isoformat()}


@dataclass(frozen=True)
class Filters:
    """What a caller narrows the views to, inside their scope (None: any)."""

    region: str | None = None  # a region code prefix
    department: str | None = None
    rule: str | None = None
    severity: str | None = None

    @classmethod
    def of(cls, *values: str | None) -> Filters:
        """From query parameters: an empty one (a blank Grafana text box) means any."""
        return cls(*(v.strip() or None if v is not None else None for v in values))

    def keeps(self, who: Principal, region: str, department: str, rule: str) -> bool:
        if not who.covers(department, region):
            return False
        if self.region and not region.startswith(self.region):
            return False
        if self.department and department != self.department:
            return False
        return not (self.rule and rule != self.rule)


def _text(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


Row = tuple[str, ...]  # kind, region, department, rule, severity or outcome


class Counters:
    """The counters of a period as read from Redis, visible to one caller."""

    def __init__(self, by_day: dict[int, list[tuple[Row, int]]]) -> None:
        self.by_day = by_day

    def rows(self, kind: str) -> Iterator[tuple[int, Row, int]]:
        for day, rows in self.by_day.items():
            for row, n in rows:
                if row[0] == kind:
                    yield day, row, n

    def total(self, kind: str) -> int:
        return sum(n for _, _, n in self.rows(kind))

    def per_day(self, kind: str) -> dict[int, int]:
        out: dict[int, int] = defaultdict(int)
        for day, _, n in self.rows(kind):
            out[day] += n
        return out

    def per(self, kind: str, index: int) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for _, row, n in self.rows(kind):
            out[row[index]] += n
        return out


def change_pct(now: int, before: int) -> float | None:
    """Percent change against the previous period (None when it had nothing)."""
    return round((now - before) * 100.0 / before, 1) if before else None


class ViewStore:
    """Reads the view counters under a key prefix (layout: ``clues/lua/views.lua``)."""

    def __init__(self, redis: aioredis.Redis, prefix: str = "rl") -> None:
        self.redis, self.prefix = redis, prefix

    def day_key(self, day: int) -> str:
        return f"{self.prefix}:views:day:{day}"

    def keys_key(self, day: int) -> str:
        return f"{self.prefix}:views:keys:{day}"

    async def newest_day(self) -> date | None:
        """The newest local day any counter is kept for (None: nothing counted yet)."""
        top = await self.redis.zrevrange(f"{self.prefix}:views:days", 0, 0)
        return day_date(int(_text(top[0]))) if top else None

    async def _hashes(self, keys: Iterable[str]) -> list[dict[str, str]]:
        pipe = self.redis.pipeline(transaction=False)
        for k in keys:
            pipe.hgetall(k)
        return [{_text(f): _text(v) for f, v in h.items()} for h in await pipe.execute()]

    async def counters(self, period: Period, who: Principal, filters: Filters) -> Counters:
        days = list(period.numbers())
        by_day: dict[int, list[tuple[Row, int]]] = {}
        for day, h in zip(days, await self._hashes(map(self.day_key, days)), strict=True):
            rows: list[tuple[Row, int]] = []
            for field, n in h.items():
                row: Row = tuple(field.split(SEP))
                if len(row) != 5 or not filters.keeps(who, row[1], row[2], row[3]):
                    continue
                if row[0] != "o" and filters.severity and row[4] != filters.severity:
                    continue
                rows.append((row, int(n)))
            by_day[day] = rows
        return Counters(by_day)

    async def subjects(
        self, period: Period, who: Principal, filters: Filters
    ) -> dict[tuple[str, str], dict[str, Any]]:
        """Warnings per (rule, key) in the period, with the days they came back on."""
        days = list(period.numbers())
        out: dict[tuple[str, str], dict[str, Any]] = {}
        for day, h in zip(days, await self._hashes(map(self.keys_key, days)), strict=True):
            for field, n in h.items():
                region, dept, rule, key = (field.split(SEP, 3) + ["", "", ""])[:4]
                if not filters.keeps(who, region, dept, rule):
                    continue
                s = out.setdefault(
                    (rule, key),
                    {"warnings": 0, "days": set(), "regions": set(), "departments": set()},
                )
                s["warnings"] += int(n)
                s["days"].add(day)
                s["regions"].add(region)
                s["departments"].add(dept)
        return out
