"""Aggregators, conditions and window arithmetic: small pieces tested with plain numbers.

Aggregators hold no state themselves: ``initialize()`` makes an accumulator, ``add`` and
``remove`` update it (a sliding window retracts what leaves it) and ``result`` reads it.
The window's owner keeps the accumulator.

Examples:
    >>> agg = AGGREGATORS["percentile"](95.0)
    >>> acc = agg.initialize()
    >>> for v in (10, 20, 30, 40, 50):
    ...     acc = agg.add(acc, v)
    >>> agg.result(agg.remove(acc, 50))
    38.5
    >>> Limits((("gte", 3.0), ("lt", 10.0))).holds(5.0), Limits((("between", (1, 2)),)).holds(3)
    (True, False)
    >>> in_window(5, end_ms=15, window_ms=10), in_window(6, end_ms=15, window_ms=10)
    (False, True)
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any

# --- window arithmetic ------------------------------------------------------------------


def in_window(ts_ms: int, end_ms: int, window_ms: int) -> bool:
    """Does an entry at ``ts_ms`` belong to the window ``(end - window, end]``?"""
    return end_ms - window_ms < ts_ms <= end_ms


def horizon(end_ms: int, window_ms: int) -> int:
    """Entries at or before this time have left the window ending at ``end_ms``.

    >>> horizon(100, 30)
    70
    """
    return end_ms - window_ms


def leaves_at(ts_ms: int, window_ms: int) -> int:
    """The first window end that no longer holds an entry at ``ts_ms``.

    >>> leaves_at(70, 30)
    100
    """
    return ts_ms + window_ms


def bucket_of(ts_ms: int, step_ms: int, offset_ms: int = 0) -> int:
    """Index of the step-sized bucket holding ``ts_ms`` (buckets start at ``-offset``).

    >>> bucket_of(59, 10), bucket_of(60, 10), bucket_of(-1, 10), bucket_of(5, 10, offset_ms=5)
    (5, 6, -1, 1)
    """
    return (ts_ms + offset_ms) // step_ms


def bucket_end(index: int, step_ms: int, offset_ms: int = 0) -> int:
    """The first instant after bucket ``index``.

    >>> bucket_end(5, 10), bucket_end(1, 10, offset_ms=5)
    (60, 15)
    """
    return (index + 1) * step_ms - offset_ms


def bucket_sum(buckets: dict[int, int], first: int, last: int) -> int:
    """Sum of the counts of buckets ``first..last`` (inclusive) in a sparse mapping.

    >>> bucket_sum({1: 2, 3: 5, 9: 1}, 1, 3), bucket_sum({1: 2}, 4, 8)
    (7, 0)
    """
    span = last - first + 1
    if span <= len(buckets):
        return sum(map(buckets.get, range(first, last + 1), repeat(0, span))) if span > 0 else 0
    return sum(n for i, n in buckets.items() if first <= i <= last)


def slide_sums(
    buckets: dict[int, int], old: int, base: int, refs: list[int], nb: int, pb: int
) -> tuple[int, list[int]]:
    """The sums of :func:`bucket_sum` for a spike window of ``nb`` buckets moved on by one,
    from bucket ``old`` to ``old + 1``: ``base`` (the current window without its newest
    bucket) and ``refs`` (the window ``k * pb`` buckets earlier, for k = 1, 2, ...), adding
    the bucket that enters each and subtracting the one that leaves. Exact only if no
    bucket before ``old`` changed since the sums were taken.

    >>> b = {1: 2, 2: 1, 3: 4, 5: 1, 6: 3}
    >>> slide_sums(b, 5, bucket_sum(b, 4, 4), [bucket_sum(b, 2, 3)], 2, 2)
    (1, [4])
    >>> bucket_sum(b, 5, 5), bucket_sum(b, 3, 4)  # the same, summed afresh
    (1, 4)
    """
    get = buckets.get
    top = old + 1
    out = []
    for k, s in enumerate(refs, 1):
        end = top - k * pb
        out.append(s + get(end, 0) - get(end - nb, 0))
    return base + get(old, 0) - get(old - nb + 1, 0), out


def median(values: Sequence[float]) -> float:
    """The middle value (the mean of the two middle ones for an even count).

    >>> median([3, 1, 2]), median([4, 1, 2, 3])
    (2, 2.5)
    """
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


STATS: dict[str, Callable[[Sequence[float]], float]] = {
    "median": median,
    "mean": lambda v: sum(v) / len(v),
    "max": max,
    "min": min,
}


# --- conditions -------------------------------------------------------------------------

COMPARATORS: dict[str, Callable[[float, Any], bool]] = {
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "between": lambda a, b: b[0] <= a <= b[1],
    "outside": lambda a, b: a < b[0] or a > b[1],
}
RANGES = ("between", "outside")
# one bound as a single closure (the common condition, tested on every windowed event)
_BOUNDS: dict[str, Callable[[Any], Callable[[float | None], bool]]] = {
    "gt": lambda b: lambda v: v is not None and v > b,
    "gte": lambda b: lambda v: v is not None and v >= b,
    "lt": lambda b: lambda v: v is not None and v < b,
    "lte": lambda b: lambda v: v is not None and v <= b,
}


def _compile(parts: tuple[tuple[str, Any], ...]) -> Callable[[float | None], bool]:
    tests = [(COMPARATORS[op], operand) for op, operand in parts]
    if len(parts) == 1 and parts[0][0] in _BOUNDS:
        return _BOUNDS[parts[0][0]](parts[0][1])
    if len(tests) == 1:
        fn, operand = tests[0]
        return lambda v: v is not None and fn(v, operand)
    return lambda v: v is not None and all(fn(v, operand) for fn, operand in tests)


@dataclass(frozen=True, slots=True)
class Limits:
    """Comparisons that must all hold (``{gte: 3, lt: 10}``, ``{between: [1, 5]}``)."""

    parts: tuple[tuple[str, Any], ...]
    holds: Callable[[float | None], bool] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "holds", _compile(self.parts))

    @property
    def rising(self) -> bool:
        """True when only lower bounds: a growing value can start it, a shrinking one end it."""
        return all(op in ("gt", "gte") for op, _ in self.parts)

    def text(self) -> str:
        return ", ".join(f"{op} {operand}" for op, operand in self.parts)


# --- aggregators --------------------------------------------------------------------------


class Count:
    """Number of events; needs no field."""

    needs_field = False
    rising = True

    def initialize(self) -> Any:
        return [0]

    def add(self, acc: Any, value: Any) -> Any:
        acc[0] += 1
        return acc

    def remove(self, acc: Any, value: Any) -> Any:
        acc[0] -= 1
        return acc

    def result(self, acc: Any) -> float | None:
        return float(acc[0])


class Distinct:
    """Number of distinct values of a field (values compared as text)."""

    needs_field = True
    rising = True

    def initialize(self) -> Any:
        return {}

    def add(self, acc: Any, value: Any) -> Any:
        acc[value] = acc.get(value, 0) + 1
        return acc

    def remove(self, acc: Any, value: Any) -> Any:
        n = acc[value] - 1
        if n:
            acc[value] = n
        else:
            del acc[value]
        return acc

    def result(self, acc: Any) -> float | None:
        return float(len(acc))


class Sum:
    """Sum (``avg``: mean) of a numeric field; events without a number are skipped."""

    needs_field = True
    rising = False

    def __init__(self, mean: bool = False) -> None:
        self.mean = mean

    def initialize(self) -> Any:
        return [0.0, 0]

    def add(self, acc: Any, value: Any) -> Any:
        acc[0] += value
        acc[1] += 1
        return acc

    def remove(self, acc: Any, value: Any) -> Any:
        acc[1] -= 1
        acc[0] = acc[0] - value if acc[1] else 0.0
        return acc

    def result(self, acc: Any) -> float | None:
        if self.mean:
            return round(acc[0] / acc[1], 9) if acc[1] else None
        return round(acc[0], 9)


class Ordered:
    """``min``, ``max`` or a percentile (linear interpolation) of a numeric field."""

    needs_field = True
    rising = False

    def __init__(self, q: float) -> None:
        self.q = q  # 0 = min, 100 = max

    def initialize(self) -> Any:
        return []

    def add(self, acc: Any, value: Any) -> Any:
        insort(acc, value)
        return acc

    def remove(self, acc: Any, value: Any) -> Any:
        del acc[bisect_left(acc, value)]
        return acc

    def result(self, acc: Any) -> float | None:
        if not acc:
            return None
        k = (len(acc) - 1) * self.q / 100.0
        lo = math.floor(k)
        hi = min(lo + 1, len(acc) - 1)
        return float(acc[lo] + (acc[hi] - acc[lo]) * (k - lo))


class Share:
    """Share of events that are in a sub-selection: ``value`` is 1 or 0 (``ratio`` rules)."""

    needs_field = False
    rising = False

    def initialize(self) -> Any:
        return [0, 0]

    def add(self, acc: Any, value: Any) -> Any:
        acc[0] += value
        acc[1] += 1
        return acc

    def remove(self, acc: Any, value: Any) -> Any:
        acc[0] -= value
        acc[1] -= 1
        return acc

    def result(self, acc: Any) -> float | None:
        return acc[0] / acc[1] if acc[1] else None


AGGREGATORS: dict[str, Callable[[float], Any]] = {
    "count": lambda p: Count(),
    "distinct": lambda p: Distinct(),
    "sum": lambda p: Sum(),
    "avg": lambda p: Sum(mean=True),
    "min": lambda p: Ordered(0.0),
    "max": lambda p: Ordered(100.0),
    "percentile": lambda p: Ordered(p),
}
NUMERIC = ("sum", "avg", "min", "max", "percentile")


def as_number(value: Any) -> float | None:
    """A field value as a number for numeric aggregates (text like '12.5' counts).

    >>> as_number("12.5"), as_number(True), as_number("n/a")
    (12.5, None, None)
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    try:
        n = float(value)
    except (TypeError, ValueError):
        return None
    return n if math.isfinite(n) else None
