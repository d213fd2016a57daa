"""``spike`` with ``distinct``: the distinct values of a field in each window, now and in
the reference, exactly as a recount of the events would give them, with the values kept
only for the recent buckets."""

from __future__ import annotations

import pickle
import random

import pytest
from rule_factories import DAY, HOUR, MIN, T0, engine, ev, feed

from envelope.time import CST_OFFSET_MS
from rules.language.errors import RuleError
from rules.language.model import parse_rule
from rules.types.aggregates import STATS, bucket_of

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
"""
COUNTED = HOURLY.replace("distinct: attrs.citizen\n", "")


def read(ts_ms: int, citizen: str | None, account: str = "a1"):
    attrs = {"account": account} if citizen is None else {"account": account, "citizen": citizen}
    return ev(ts_ms, "data.access", **attrs)


def history(days: int = 3) -> list:
    """An account reading 5 citizens between 09:15 and 10:15 on each of ``days`` days (and
    one early read, so the key's history covers the reference span on the next day)."""
    return [read(T0 - 2 * HOUR, "early")] + [
        read(T0 + d * DAY + i * 10 * MIN, f"c{d}-{i % 5}") for d in range(days) for i in range(6)
    ]


def test_one_citizen_read_many_times_is_no_spike_while_many_citizens_are() -> None:
    day = T0 + 3 * DAY
    again = [read(day + i * MIN, "same") for i in range(40)]  # one case file opened 40 times
    assert feed(engine(COUNTED), history() + again)  # counting reads calls it a spike
    assert not feed(engine(HOURLY), history() + again)
    many = [read(day + i * MIN, f"n{i}") for i in range(40)]
    found = feed(engine(HOURLY), history() + many)
    assert [(w.value, w.details["reference"], w.ts_ms) for w in found] == [
        (20.0, 3, day + 19 * MIN)  # 3: the citizens read by 09:45 on the days before
    ]


def test_events_without_the_field_add_no_value() -> None:
    day = T0 + 3 * DAY
    blank = [read(day + i * MIN, None) for i in range(40)]
    eng = engine(HOURLY)
    assert not feed(eng, history() + blank)
    assert eng.state_of("reading", "a1")["current"] == 0


def brute(events: list, t: int, step: int, nb: int, pb: int, periods: int, stat: str):
    """The current and reference distinct counts recounted from the events seen so far."""

    def window(end: int) -> int:
        return len({e.attrs["citizen"] for e in events if end - nb < bucket(e.ts_ms) <= end})

    def bucket(ts: int) -> int:
        return bucket_of(ts, step, CST_OFFSET_MS)

    b = bucket(t)
    return window(b), STATS[stat]([window(b - k * pb) for k in range(1, periods + 1)])


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_counts_equal_a_recount_late_events_and_idle_hours_included(seed: int) -> None:
    rnd = random.Random(seed)
    eng = engine(HOURLY, lateness_ms=20 * MIN)
    seen: list = []
    t = T0
    for _ in range(600):
        t += int(rnd.expovariate(1.0) * rnd.choice((MIN, 10 * MIN, 2 * HOUR)))
        ts = t - rnd.randrange(20 * MIN) if rnd.random() < 0.2 else t  # late within the window
        e = read(ts, f"c{rnd.randrange(30)}")
        eng.process(e)
        seen.append(e)
        newest = max(x.ts_ms for x in seen)
        state = eng.state_of("reading", "a1")
        expected = brute(seen, newest, 15 * MIN, 4, 96, 3, "max")
        assert (state["current"], state["reference"]) == expected, ts


def busy_key(text: str, days: int):
    """The state of an account that reads 300 distinct citizens every day for ``days``."""
    eng = engine(text)
    for d in range(days):
        feed(eng, [read(T0 + d * DAY + i * 20_000, f"d{d}-{i}") for i in range(300)])
    return eng.runners[0].state.keys["a1"]


def test_values_are_kept_for_recent_buckets_only_so_a_key_stays_small() -> None:
    week, month = busy_key(HOURLY, 7), busy_key(HOURLY, 30)
    kept = [sum(len(v) for v in c.seen.values()) for c in (week, month)]
    assert kept[0] == kept[1] <= 300  # the values of the last window or two, no more
    assert len(pickle.dumps(month)) < len(pickle.dumps(week)) * 1.2


@pytest.mark.parametrize("text", [COUNTED, HOURLY])
def test_a_key_busy_every_day_keeps_no_more_buckets_than_its_history(text: str) -> None:
    keep = 3 * 96 + 4  # three days of 15-minute buckets and the window
    assert len(busy_key(text, 90).buckets) <= keep + 4


def test_distinct_with_share_of_is_refused_at_its_line() -> None:
    text = HOURLY.replace("group_by: [attrs.account]", "group_by: [region, attrs.account]")
    with pytest.raises(RuleError) as err:
        parse_rule(text + "share_of: [attrs.account]\n", "rules/r.yaml")
    assert str(err.value).startswith("rules/r.yaml:7:")
    assert "'distinct' cannot be combined with 'share_of'" in str(err.value)


def test_distinct_must_name_a_field() -> None:
    with pytest.raises(RuleError) as err:
        parse_rule(HOURLY.replace("distinct: attrs.citizen", "distinct: citizen"), "rules/r.yaml")
    assert str(err.value).startswith("rules/r.yaml:7:")


def test_restored_state_continues_with_the_same_warnings() -> None:
    rnd = random.Random(9)
    events = history(4) + [read(T0 + 4 * DAY + i * MIN, f"n{rnd.randrange(60)}") for i in range(90)]
    whole = [w.id for w in feed(engine(HOURLY), events)]
    first = engine(HOURLY)
    out = [w.id for w in feed(first, events[:30])]
    second = engine(HOURLY)
    second.restore(first.export_dirty().items())  # type: ignore[arg-type]
    out += [w.id for w in feed(second, events[30:])]
    assert whole and out == whole
