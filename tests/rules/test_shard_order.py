"""A shard applies a key's events in event time, whatever order its sources deliver them in:
a fulfilment delivered by one source before its anchor arrives from another still fulfils
it, and a threshold fed by two sources fires at the event a single time-ordered engine fires
at (so with the same warning id)."""

from __future__ import annotations

from event_factories import make_event

from rules import RuleSet
from rules.engine.engine import Engine
from rules.engine.keyspace import KeyPlan
from rules.engine.shard import Shard
from rules.language.model import parse_rule

T0 = 1772414100000  # Mon 2026-03-02T09:15:00+08:00
MIN = 60_000
NOW = T0 + 10 * 24 * 60 * MIN
ABSENCE = """
id: undecided
title: accepted application not decided within an hour
type: absence
group_by: [attrs.application_id]
anchor: {type: application.accepted}
fulfilled_by: {type: application.decided}
deadline: {after: 1h}
"""
THRESHOLD = """
id: reads
title: three reads within ten minutes
type: threshold
match: {type: data.access}
group_by: [attrs.account]
window: 10m
condition: {gte: 3}
"""
SOURCES = ("a", "b")


def shard(rule: str) -> tuple[Shard, str]:
    s = Shard(RuleSet([parse_rule(rule, "r.yaml")]), lateness_ms=0, sources=SOURCES)
    return s, s.plan.spaces[0].name


def test_a_fulfilment_delivered_before_its_anchor_still_fulfils_it():
    s, space = shard(ABSENCE)
    accepted = make_event(ts_ms=T0, type="application.accepted", application_id="A-1")
    decided = make_event(ts_ms=T0 + 20 * MIN, type="application.decided", application_id="A-1")
    out = s.apply(space, "b", decided, NOW)[1]  # source b is ahead: the decision comes first
    out += s.apply(space, "a", accepted, NOW)[1]
    out += s.progress("a", T0 + 3 * 60 * MIN) + s.progress("b", T0 + 3 * 60 * MIN)
    assert out == [], "decided 20 minutes after acceptance: nothing is overdue"
    assert s.watermark_ms == T0 + 3 * 60 * MIN


def test_a_threshold_fed_by_two_sources_fires_where_time_order_fires():
    rule = parse_rule(THRESHOLD, "r.yaml")
    reads = [
        make_event(ts_ms=T0 + m * MIN, type="data.access", account="stf-1", id=f"e{m}")
        for m in (0, 1, 2, 3, 4)
    ]
    one = Engine(RuleSet([rule]), lateness_ms=0)
    want = [(w.id, w.ts_ms) for ev in reads for w in one.process(ev)]
    assert len(want) == 1

    s, space = shard(THRESHOLD)
    got = []
    for ev in [reads[1], reads[3], reads[4]]:  # source b, read far ahead
        got += s.apply(space, "b", ev, NOW)[1]
    assert got == [], "nothing applied before source a has passed these times"
    for ev in [reads[0], reads[2]]:
        got += s.apply(space, "a", ev, NOW)[1]
    got += s.progress("a", T0 + 30 * MIN)
    assert [(w.id, w.ts_ms) for w in got] == want


FEEDS = """
id: feed-silent
title: a listed feed stopped delivering
type: absence
group_by: [attrs.feed]
heartbeat: {match: {type: feed.delivered}, every: 1h, keys: [tax, land, health, water, power]}
"""


def test_a_listed_heartbeat_key_is_expected_only_on_the_shard_its_beats_go_to():
    """Five listed feeds over four shards: each is expected on one, the one its beats are
    routed to, so a feed that beats is silent nowhere and one that never beats is reported
    once, as one engine over the whole stream reports it."""
    ruleset = RuleSet([parse_rule(FEEDS, "r.yaml")])
    beats = [
        make_event(ts_ms=T0 + m * 30 * MIN, type="feed.delivered", feed=feed, id=f"{feed}{m}")
        for m in range(6)
        for feed in ("tax", "land", "health", "water")  # power never delivers
    ]
    end = T0 + 6 * 30 * MIN
    one = Engine(ruleset, lateness_ms=0)
    expected = [w.id for ev in beats for w in one.process(ev)] + [w.id for w in one.advance_to(end)]
    assert len(expected) == 1

    shards = [Shard(ruleset, p, lateness_ms=0, sources=("a",), partitions=4) for p in range(4)]
    space = shards[0].plan.spaces[0]
    got = []
    for ev in beats:
        key = space.key(ev)
        assert key is not None
        got += shards[KeyPlan.partition(key, 4)].apply(space.name, "a", ev, NOW)[1]
        for s in shards:
            got += s.progress("a", ev.ts_ms)
    for s in shards:
        got += s.progress("a", end)
    assert [w.id for w in got] == expected
    assert [w.key for w in got] == ["power"]
