"""Field modifiers of ``match`` selections: one explicit table from name to implementation.

A selection is a mapping ``field|modifier: operand``; every entry must hold (AND). A list
operand without a modifier means "any of" (``in``). A missing field never matches, except
``|exists: false``.

Examples:
    >>> from riskloop.events import Event
    >>> ev = Event.from_dict({"id": "e", "type": "data.access", "stream": "service",
    ...     "ts": "2026-03-02T09:00:00+08:00", "source": "s", "region": "330106",
    ...     "department": "d", "entity": {"kind": "staff", "id": "stf-1"},
    ...     "attrs": {"dataset": "medical", "rows": 120}})
    >>> sel = compile_selection({"type": "data.access", "attrs.rows|gte": 100}, "r.yaml")
    >>> sel.matches(ev)
    True
    >>> compile_selection({"attrs.dataset|in": ["tax", "vehicle"]}, "r.yaml").matches(ev)
    False
    >>> compile_selection({"attrs.rows|above": 1}, "r.yaml")
    Traceback (most recent call last):
    ...
    rules.errors.RuleError: r.yaml:1:1: unknown modifier 'above' in 'attrs.rows|above': use one of contains, endswith, eq, exists, gt, gte, in, lt, lte, ne, re, startswith
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from rules.errors import RuleError


def _num(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        return float(v)
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _cmp(pred: Callable[[float, float], bool]) -> Callable[[Any, Any], bool]:
    def op(value: Any, operand: Any) -> bool:
        a = _num(value)
        return a is not None and pred(a, operand)

    return op


def _eq(value: Any, operand: Any) -> bool:
    return value == operand or (value is not None and str(value) == str(operand))


def _in(value: Any, operand: Any) -> bool:
    return value is not None and (value in operand or str(value) in operand)


def _re(value: Any, operand: Any) -> bool:
    return isinstance(value, str) and operand.search(value) is not None


OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": _eq,
    "ne": lambda v, o: v is not None and not _eq(v, o),
    "in": _in,
    "contains": lambda v, o: isinstance(v, str | list) and o in v,
    "startswith": lambda v, o: isinstance(v, str) and v.startswith(o),
    "endswith": lambda v, o: isinstance(v, str) and v.endswith(o),
    "re": _re,
    "gt": _cmp(lambda a, b: a > b),
    "gte": _cmp(lambda a, b: a >= b),
    "lt": _cmp(lambda a, b: a < b),
    "lte": _cmp(lambda a, b: a <= b),
    "exists": lambda v, o: (v is not None) == o,
}


def _operand(op: str, raw: Any, where: str) -> Any:
    """Check and prepare an operand once, at load time. Returns it or raises ValueError."""
    if op in ("gt", "gte", "lt", "lte"):
        n = _num(raw)
        if n is None:
            raise ValueError(f"'{where}' needs a number, got {raw!r}")
        return n
    if op == "in":
        if not isinstance(raw, list) or not raw:
            raise ValueError(f"'{where}' needs a non-empty list")
        return frozenset(str(x) for x in raw) | frozenset(raw)
    if op == "re":
        try:
            return re.compile(str(raw))
        except re.error as exc:
            raise ValueError(f"'{where}' has a bad regular expression: {exc}") from None
    if op == "exists":
        if not isinstance(raw, bool):
            raise ValueError(f"'{where}' needs true or false")
        return raw
    if isinstance(raw, dict | list) and op != "contains":
        raise ValueError(f"'{where}' needs a single value")
    return raw


@dataclass(frozen=True, slots=True)
class Condition:
    path: str
    op: str
    operand: Any

    def holds(self, event: Any) -> bool:
        return OPERATORS[self.op](event.get(self.path), self.operand)


@dataclass(frozen=True, slots=True)
class Selection:
    """All conditions must hold. ``types`` is the set of event types it can match, if known."""

    conditions: tuple[Condition, ...]
    types: frozenset[str] | None

    def matches(self, event: Any) -> bool:
        return all(c.holds(event) for c in self.conditions)


def compile_selection(spec: Mapping[str, Any], path: str) -> Selection:
    """Compile a ``match`` mapping; errors point at the offending key."""
    key_pos = getattr(spec, "key_pos", {})
    default = getattr(spec, "pos", (1, 1))
    conditions: list[Condition] = []
    types: frozenset[str] | None = None
    for where, raw in spec.items():
        line, col = key_pos.get(where, default)
        field, _, op = where.partition("|")
        if not op:
            op = "in" if isinstance(raw, list) else "eq"
        if op not in OPERATORS:
            known = ", ".join(sorted(OPERATORS))
            raise RuleError(path, line, col, f"unknown modifier {op!r} in {where!r}: use one of {known}")
        if not field:
            raise RuleError(path, line, col, f"{where!r} names no field: write 'attrs.item|in'")
        try:
            operand = _operand(op, raw, where)
        except ValueError as exc:
            raise RuleError(path, line, col, str(exc)) from None
        if field == "type" and op in ("eq", "in"):
            types = frozenset([raw] if op == "eq" else raw)
        conditions.append(Condition(field, op, operand))
    return Selection(tuple(conditions), types)


_UNITS_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_DURATION = re.compile(r"^(\d+)([smhdw])$")


def parse_duration_ms(raw: Any) -> int | None:
    """'10m' -> 600000; None if it is not a duration.

    >>> parse_duration_ms("90m"), parse_duration_ms("2d"), parse_duration_ms("ten")
    (5400000, 172800000, None)
    """
    m = _DURATION.match(str(raw).strip())
    if not m or int(m.group(1)) == 0:
        return None
    return int(m.group(1)) * _UNITS_MS[m.group(2)]
