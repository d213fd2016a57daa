"""Aggregators, conditions and window arithmetic with plain integers."""

from __future__ import annotations

import pytest

from rules.types.aggregates import (
    AGGREGATORS,
    Limits,
    as_number,
    bucket_end,
    bucket_of,
    bucket_sum,
    horizon,
    in_window,
    leaves_at,
    median,
)


def fold(name: str, values: list[float], p: float = 0.0, remove: list[float] = ()) -> float | None:  # type: ignore[assignment]
    agg = AGGREGATORS[name](p)
    acc = agg.initialize()
    for v in values:
        acc = agg.add(acc, v)
    for v in remove:
        acc = agg.remove(acc, v)
    return agg.result(acc)


@pytest.mark.parametrize(
    ("name", "p", "expected"),
    [
        ("count", 0, 5.0),
        ("sum", 0, 150.0),
        ("avg", 0, 30.0),
        ("min", 0, 10.0),
        ("max", 0, 50.0),
        ("percentile", 50, 30.0),
        ("percentile", 90, 46.0),
        ("percentile", 0, 10.0),
    ],
)
def test_aggregates_over_values(name: str, p: float, expected: float) -> None:
    assert fold(name, [30, 10, 50, 20, 40], p) == expected


def test_removal_retracts_exactly() -> None:
    assert fold("avg", [1, 2, 3, 10], remove=[10]) == 2.0
    assert fold("max", [5, 9, 9], remove=[9]) == 9.0
    assert fold("min", [5, 9], remove=[5]) == 9.0
    assert fold("sum", [0.1, 0.2], remove=[0.1, 0.2]) == 0.0
    assert fold("avg", [4.0], remove=[4.0]) is None
    assert fold("percentile", [1.0], p=95, remove=[1.0]) is None


def test_distinct_counts_values_and_forgets_them_when_the_last_copy_leaves() -> None:
    assert fold("distinct", ["a", "b", "a"]) == 2.0
    assert fold("distinct", ["a", "b", "a"], remove=["a"]) == 2.0
    assert fold("distinct", ["a", "b", "a"], remove=["a", "a"]) == 1.0


def test_window_edges_are_half_open() -> None:
    assert not in_window(90, end_ms=100, window_ms=10) and in_window(91, end_ms=100, window_ms=10)
    assert in_window(100, end_ms=100, window_ms=10) and not in_window(101, end_ms=100, window_ms=10)
    assert horizon(100, 10) == 90 and leaves_at(91, 10) == 101


def test_buckets() -> None:
    assert [bucket_of(t, 10) for t in (0, 9, 10, -1)] == [0, 0, 1, -1]
    assert bucket_end(0, 10) == 10 and bucket_end(2, 10, offset_ms=3) == 27
    assert bucket_sum({0: 1, 1: 2, 5: 4}, 0, 1) == 3 and bucket_sum({0: 1}, -100, 100) == 1


def test_limits() -> None:
    assert Limits((("gte", 3.0),)).holds(3.0) and not Limits((("gt", 3.0),)).holds(3.0)
    assert Limits((("between", (1.0, 5.0)),)).holds(5.0)
    assert Limits((("outside", (1.0, 5.0)),)).holds(0.5)
    assert not Limits((("gte", 1.0), ("lt", 2.0))).holds(2.0)
    assert not Limits((("lt", 1.0),)).holds(None)
    assert Limits((("gte", 1.0),)).rising and not Limits((("lt", 1.0),)).rising


def test_median_and_numbers() -> None:
    assert median([5]) == 5 and median([1, 9, 3, 7]) == 5.0
    assert as_number("3") == 3.0 and as_number(float("nan")) is None and as_number([1]) is None
