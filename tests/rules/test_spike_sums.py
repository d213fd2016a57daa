"""The spike rule slides its window sums from bucket to bucket instead of summing afresh:
the sums, the warnings and the checkpoint must be exactly those of summing afresh, late
events, forgotten history and restored state included."""

from __future__ import annotations

import random

import pytest
from rule_factories import DAY, HOUR, MIN, T0, engine, ev

from rules.types.aggregates import bucket_sum, slide_sums

SEASONAL = """
id: seasonal
title: seasonal surge
type: spike
match: {type: hotline.ticket}
group_by: [attrs.category]
window: 6h
step: 1h
reference: {period: 1d, count: 3, stat: median}
direction: both
condition: {ratio_gte: 2, current_gte: 3, reference_gte: 1}
resolve: {on: cleared}
"""

PREVIOUS = """
id: previous
title: against the previous window
type: spike
match: {type: hotline.ticket}
group_by: [attrs.category]
window: 3h
step: 30m
direction: up
condition: {ratio_gte: 2, current_gte: 3, reference_gte: 1}
"""


def stream(seed: int, n: int = 1500) -> list:
    """Bursty tickets over a few weeks in two categories, some late by up to two days."""
    rnd = random.Random(seed)
    t, out = T0, []
    for _ in range(n):
        t += int(rnd.expovariate(1.0) * rnd.choice((5 * MIN, 40 * MIN, 3 * HOUR)))
        late = rnd.random() < 0.1
        ts = t - rnd.randrange(2 * DAY) if late else t
        out.append(ev(ts, "hotline.ticket", category=rnd.choice(("noise", "water"))))
    return out


def run(text: str, events: list, slide: bool, lateness_ms: int):
    eng = engine(text, lateness_ms=lateness_ms)
    evaluator = eng.runners[0].evaluator
    evaluator._slides = evaluator._slides and slide
    out, sums = [], []
    for e in events:
        out.extend((w.id, w.stage, w.value, w.details.get("reference")) for w in eng.process(e))
        sums.append({k: (c.cached, c.base, c.ref) for k, c in eng.runners[0].state.keys.items()})
    return out, sums, eng


@pytest.mark.parametrize("text", [SEASONAL, PREVIOUS])
@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("lateness_ms", [0, 10 * MIN])
def test_sliding_sums_equal_fresh_sums(text: str, seed: int, lateness_ms: int) -> None:
    events = stream(seed)
    slid, slid_sums, eng = run(text, events, True, lateness_ms)
    fresh, fresh_sums, _ = run(text, events, False, lateness_ms)
    assert eng.runners[0].evaluator._sums  # the sliding path did run
    assert slid == fresh
    assert slid_sums == fresh_sums


def test_restored_state_continues_with_the_same_warnings() -> None:
    events = stream(7)
    whole, _, _ = run(SEASONAL, events, True, 0)
    first = engine(SEASONAL)
    out = [w.id for e in events[:700] for w in first.process(e)]
    second = engine(SEASONAL)
    second.restore(first.export_dirty().items())  # type: ignore[arg-type]
    out += [w.id for e in events[700:] for w in second.process(e)]
    assert out == [w[0] for w in whole]


def test_slide_sums_matches_bucket_sum_for_every_step() -> None:
    rnd = random.Random(5)
    buckets = {i: rnd.randrange(4) for i in range(200) if rnd.random() < 0.6}
    nb, pb, periods = 6, 24, 3

    def fresh(b: int) -> tuple[int, list[int]]:
        return bucket_sum(buckets, b - nb + 1, b - 1), [
            bucket_sum(buckets, b - k * pb - nb + 1, b - k * pb) for k in range(1, periods + 1)
        ]

    for old in range(80, 190):
        assert slide_sums(buckets, old, *fresh(old), nb, pb) == fresh(old + 1)
