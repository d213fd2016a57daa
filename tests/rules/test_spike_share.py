"""spike rules with ``share_of``: a key against its usual share of a wider group, so a rise of
the whole group (a festival across the city) is not a spike of every key in it."""

from __future__ import annotations

from pathlib import Path

import pytest
from rule_factories import HOUR, MIN, engine, ev, feed

from replay.backtest import backtest
from replay.formats import write_events
from rules import RuleSet
from rules.engine.keyspace import KeyPlan
from rules.language.errors import RuleError
from rules.language.model import parse_rule

T0 = 1772380800000  # Mon 2026-03-02T00:00:00+08:00
DISTRICTS = ("330102", "330105", "330106", "330108")
SHARE = """
id: surge
title: surge
type: spike
match: {type: hotline.ticket}
group_by: [region, attrs.category]
share_of: [attrs.category]
window: 2h
step: 15m
reference: {period: 2h, count: 12, stat: mean}
condition: {ratio_gte: 2.5, current_gte: 15, reference_gte: 1}
"""
SELF = SHARE.replace("share_of: [attrs.category]\n", "")  # the same rule against its own past


def ticket(ts: int, region: str, category: str = "noise"):
    return ev(ts, "hotline.ticket", region=region, category=category)


def city(hours: int = 10) -> list:
    """Each district: a noise ticket every 30 minutes, from midnight."""
    return [
        ticket(T0 + i * 30 * MIN + d * MIN, r)
        for i in range(hours * 2)
        for d, r in enumerate(DISTRICTS)
    ]


def extra(regions: tuple[str, ...], start: int, n: int, every: int = 3 * MIN) -> list:
    return [
        ticket(start + i * every + d * 10_000, r) for i in range(n) for d, r in enumerate(regions)
    ]


def run(text: str, events: list) -> list:
    return feed(engine(text), sorted(events, key=lambda e: e.ts_ms))


def test_a_rise_of_the_whole_city_fires_in_no_district_where_each_against_itself_fires():
    festival = city() + extra(DISTRICTS, T0 + 8 * HOUR, 20)
    assert run(SHARE, festival) == []
    assert {w.key for w in run(SELF.replace("count: 12", "count: 1"), festival)} == {
        f"{r}|noise" for r in DISTRICTS
    }


def test_a_surge_in_one_district_fires_there_with_its_share_in_the_details():
    [w] = run(SHARE, city() + extra(("330106",), T0 + 8 * HOUR + 10 * MIN, 30, every=2 * MIN))
    assert (w.key, w.region, w.value) == ("330106|noise", "330106", 20.0)
    assert w.details["share"] == 0.625 and w.details["usual_share"] == 0.25
    assert w.details["group_count"] == 32 and w.details["ratio"] == 2.5


def test_the_rule_runs_in_the_key_space_of_its_wider_group():
    plan = KeyPlan(RuleSet([parse_rule(SHARE, "surge.yaml")]))
    [space] = plan.spaces
    assert space.name == "events:attrs.category"
    keys = {key for r in DISTRICTS for _, key in plan.route(ticket(T0, r))}
    assert keys == {"noise"}  # every district's noise tickets meet on one partition
    whole = KeyPlan(
        RuleSet([parse_rule(SHARE.replace("[attrs.category]\nwindow", "[]\nwindow"), "s.yaml")])
    )
    assert [ks.name for ks in whole.spaces] == ["events:*"]


def test_warnings_do_not_depend_on_the_partition_count(tmp_path: Path):
    events = city(24) + extra(("330106",), T0 + 8 * HOUR, 30, every=2 * MIN)
    events += extra(DISTRICTS, T0 + 14 * HOUR, 15) + extra(("330102",), T0 + 19 * HOUR, 30, 2 * MIN)
    data = tmp_path / "day.jsonl"
    write_events([e.to_dict() for e in sorted(events, key=lambda e: e.ts_ms)], data)
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "surge.yaml").write_text(SHARE)
    found = {
        n: sorted((w.ts_ms, w.key, w.id) for w in backtest(data, rules, partitions=n).warnings)
        for n in (1, 4, 12)
    }
    assert found[1] == found[4] == found[12]
    assert [key for _, key, _ in found[1]] == ["330106|noise", "330102|noise"]


@pytest.mark.parametrize(
    ("share_of", "message"),
    [
        ("[attrs.item]", "share_of must name some of the rule's group_by parts (region, "
         "attrs.category), not attrs.item"),
        ("[region, attrs.category]", "share_of must be wider than group_by: leave out at least "
         "one of its parts"),
    ],
)  # fmt: skip
def test_a_share_of_that_is_not_a_wider_group_is_refused_at_its_line(share_of, message):
    with pytest.raises(RuleError) as err:
        parse_rule(SHARE.replace("[attrs.category]\nwindow", f"{share_of}\nwindow"), "r/s.yaml")
    assert str(err.value).startswith("r/s.yaml:7:")
    assert message in str(err.value)


def test_with_the_median_of_the_shares_one_past_surge_does_not_hide_the_next():
    surges = extra(("330106",), T0 + 8 * HOUR + 10 * MIN, 30, every=2 * MIN)
    surges += extra(("330106",), T0 + 15 * HOUR + 10 * MIN, 30, every=2 * MIN)
    events = city(24) + surges
    pooled = [w.ts_ms for w in run(SHARE, events)]
    median = [w.ts_ms for w in run(SHARE.replace("stat: mean", "stat: median"), events)]
    assert pooled == [T0 + 8 * HOUR + 40 * MIN]  # the first surge lifts the pooled share
    assert median == [T0 + 8 * HOUR + 40 * MIN, T0 + 15 * HOUR + 40 * MIN]


def test_a_restored_engine_goes_on_with_the_groups_counts_it_saved():
    events = sorted(
        city(24) + extra(("330106",), T0 + 8 * HOUR + 10 * MIN, 30, every=2 * MIN),
        key=lambda e: e.ts_ms,
    )
    whole = [w.id for w in run(SHARE, events)]
    first, second = engine(SHARE), engine(SHARE)
    cut = next(i for i, e in enumerate(events) if e.ts_ms >= T0 + 8 * HOUR + 20 * MIN)
    before = feed(first, events[:cut])
    second.restore((k, v) for k, v in first.export_dirty().items() if v is not None)
    after = feed(second, events[cut:])
    assert whole and [w.id for w in before + after] == whole
