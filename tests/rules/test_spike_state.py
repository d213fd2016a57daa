"""What a spike rule keeps per key of its newest event: the fields a warning needs, not the
event; a key checkpointed by an older release (the whole event) still loads and raises the
same warnings, for counts, distinct values and shares."""

from __future__ import annotations

import pickle
import random

import pytest
from rule_factories import DAY, MIN, T0, engine, ev, feed

from rules.tools.bench import deep_size

HOURLY = """
id: reading
title: an account reads many more citizens than at that hour
type: spike
match: {type: data.access}
group_by: [attrs.account]
distinct: attrs.citizen
window: 1h
step: 15m
reference: {period: 1d, count: 3, stat: max}
condition: {ratio_gte: 3, current_gte: 20, reference_gte: 1}
resolve: {on: cleared}
output: {fields: [attrs.hall]}
"""
COUNTED = HOURLY.replace("distinct: attrs.citizen\n", "")
SHARE = COUNTED.replace("group_by: [attrs.account]", "group_by: [attrs.hall, attrs.account]")
SHARE = SHARE.replace("resolve:", "share_of: [attrs.hall]\nresolve:")


def reads() -> list:
    rnd = random.Random(4)
    past = [
        ev(
            T0 + d * DAY + i * 10 * MIN,
            "data.access",
            account=f"a{i % 2}",
            hall="h1",
            citizen=f"c{i % 5}",
        )
        for d in range(4)
        for i in range(12)
    ]
    now = [
        ev(
            T0 + 4 * DAY + i * MIN,
            "data.access",
            account="a1",
            hall="h1",
            citizen=f"n{rnd.randrange(60)}",
        )
        for i in range(90)
    ]
    return past + now


def as_older_release(eng, newest: dict) -> None:
    """Each key as an older release checkpointed it: the whole newest event kept."""
    keys = eng.runners[0].state.keys
    for key, counts in keys.items():
        if counts.last is not None:
            counts.last = newest[key]
        keys[key] = pickle.loads(pickle.dumps(counts, protocol=5))


@pytest.mark.parametrize("text", [COUNTED, HOURLY, SHARE], ids=["count", "distinct", "share"])
def test_a_key_of_an_older_release_loads_and_raises_the_same_warnings(text: str) -> None:
    events = reads()
    straight = engine(text)
    whole = [w.to_dict() for w in feed(straight, events)]
    whole += [w.to_dict() for w in straight.advance_to(T0 + 6 * DAY)]
    assert {w["stage"] for w in whole} == {"fired", "resolved"}
    eng = engine(text)
    runner = eng.runners[0]
    newest: dict = {}
    got = []
    for e in events[:60]:
        got += [w.to_dict() for w in eng.process(e)]
        newest[runner.evaluator.key_of(e)] = e
    as_older_release(eng, newest)
    got += [w.to_dict() for w in feed(eng, events[60:])]
    got += [w.to_dict() for w in eng.advance_to(T0 + 6 * DAY)]
    assert got == whole
    assert "'h1'" in repr(whole[0])  # the captured field of the newest event


@pytest.mark.parametrize("text", [COUNTED, HOURLY], ids=["count", "distinct"])
def test_a_key_keeps_the_fields_a_warning_needs_not_the_event(text: str) -> None:
    events = reads()
    eng = engine(text)
    feed(eng, events)
    counts = eng.runners[0].state.keys["a1"]
    assert isinstance(counts.last, tuple) and "h1" in counts.last
    row = counts.last
    size, pickled = deep_size(counts), len(pickle.dumps(counts, protocol=5))
    counts.last = events[-1]
    assert deep_size(counts) > size + 500
    assert len(pickle.dumps(counts, protocol=5)) > pickled
    counts.last = row
