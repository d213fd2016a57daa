"""List queries: filters, sort orders, which index to walk and the cursor. Pure module.

A query walks one sorted set (the most selective index for its filters and sort) in order
and the LIST script keeps the entries that pass every filter, including the caller's scope.
So a page costs O(log n + scanned), whatever the queue's size. The cursor is the last
scanned (score, member): pages neither skip nor repeat a clue that stays where it was.

Sort orders:

- ``queue``: the status's work order (most urgent first) when one ``status`` is asked for;
  there is no work order across statuses, so with none or several it is ``newest``;
- ``newest`` / ``oldest``: by first warning (event time);
- ``due``: soonest deadline first (only clues whose deadline runs, or of a ``colour``);
- ``mine`` (or an ``assignee``) always walks that inspector's clues by deadline.

>>> q = ListQuery(status=("dispatched",), department="market-supervision")
>>> plan(Keys("rl"), q, None).key
'rl:q:dispatched:dept:market-supervision'
>>> plan(Keys("rl"), ListQuery(sort="oldest"), None).reverse
True
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from clues.access import Principal
from clues.keys import Keys
from clues.model import COLOURS, STATUSES, ClueError

SORTS = ("queue", "newest", "oldest", "due")
MAX_SCAN = 2000


class InvalidCursor(ClueError, ValueError):
    """A pagination cursor this store did not hand out."""


class InvalidQuery(ClueError, ValueError):
    """A filter or sort value that does not exist; the message names the valid ones."""


@dataclass(frozen=True)
class ListQuery:
    """Filters (all optional, combined with AND) and a sort order."""

    status: tuple[str, ...] = ()
    colour: str | None = None
    rule_id: str | None = None
    department: str | None = None
    region: str | None = None  # a region code prefix
    assignee: str | None = None
    sort: str | None = None  # None: queue for one status, else newest

    def validate(self) -> ListQuery:
        for s in self.status:
            if s not in STATUSES:
                raise InvalidQuery(f"unknown status {s!r}; valid statuses: {', '.join(STATUSES)}")
        if self.colour is not None and self.colour not in COLOURS:
            raise InvalidQuery(f"unknown colour {self.colour!r}; use one of {', '.join(COLOURS)}")
        if self.sort is not None and self.sort not in SORTS:
            raise InvalidQuery(f"unknown sort {self.sort!r}; use one of {', '.join(SORTS)}")
        return self


@dataclass(frozen=True)
class Plan:
    """Which sorted set to walk, in which direction, with which filters for the script."""

    key: str
    reverse: bool
    filters: dict[str, Any]


def _departments(q: ListQuery, who: Principal | None) -> tuple[str, ...] | None:
    scope = who.departments if who is not None else None
    if q.department is None:
        return scope
    if scope is not None and q.department not in scope:
        return ()  # asks for a department outside the scope: nothing to see
    return (q.department,)


def plan(keys: Keys, q: ListQuery, who: Principal | None) -> Plan:
    """The index and filters for a query by ``who`` (None: unscoped, for the system)."""
    depts = _departments(q, who)
    one_dept = depts[0] if depts is not None and len(depts) == 1 else None
    sort = q.sort or "queue"
    if sort == "queue" and len(q.status) != 1:
        sort = "newest"  # a work order exists per status only
    if q.assignee is not None:
        key, reverse = keys.assignee(q.assignee), False
    elif sort == "due":
        key = keys.colour(q.colour) if q.colour else keys.queue("due", dept=one_dept)
        reverse = False
    elif sort == "queue":
        key, reverse = keys.queue(q.status[0], q.rule_id, None if q.rule_id else one_dept), False
    else:
        key = keys.queue("all", q.rule_id, None if q.rule_id else one_dept)
        reverse = sort == "oldest"
    filters: dict[str, Any] = {}
    if q.status:
        filters["status"] = {s: True for s in q.status}
    if depts is not None:
        filters["departments"] = {d: True for d in depts} or {"\x00none": True}
    if who is not None and who.regions is not None:
        filters["regions"] = list(who.regions)
    for name, value in (
        ("region", q.region),
        ("rule", q.rule_id),
        ("colour", q.colour),
        ("assignee", q.assignee),
    ):
        if value:
            filters[name] = value
    return Plan(key, reverse, filters)


# A cursor is the last scanned entry written out, ``<score>~<clue id>``: anything of this shape
# is a position a page can start after, so the OpenAPI document can say exactly what is valid.
CURSOR_PATTERN = r"^-?[0-9]{1,20}(\.[0-9]{1,20})?(e[+-]?[0-9]{1,2})?~clue-[0-9a-f]{20}$"
_CURSOR = re.compile(CURSOR_PATTERN)


def encode_cursor(score: str, member: str) -> str:
    return f"{score}~{member}"


def decode_cursor(cursor: str) -> tuple[str, str]:
    if not _CURSOR.match(cursor) or not math.isfinite(float(cursor.split("~", 1)[0])):
        raise InvalidCursor(
            f"bad cursor {cursor[:60]!r}: pass back the next_cursor of a previous page"
        )
    score, member = cursor.split("~", 1)
    return score, member
