"""Checkpoint and restore of per-partition engines over a plain dict standing in for the
changelog-backed table (the real table is exercised by tests/e2e/test_e2e_restart.py)."""

from __future__ import annotations

from riskloop.testing import make_event
from rules import RuleSet
from rules.model import parse_rule
from streams.state import BUCKETS, PartitionEngines

T0 = 1772414100000
RULE = """
id: many-reads
title: many reads
type: threshold
match: {type: data.access}
group_by: [attrs.account]
window: 1h
aggregate: {distinct: attrs.citizen}
condition: {gte: 5}
"""


def engines(table: dict) -> PartitionEngines:
    ruleset = RuleSet([parse_rule(RULE, "r.yaml")])
    return PartitionEngines(
        ruleset, table, lateness_ms=0, checkpoint_every=3, checkpoint_interval_s=60
    )


def reads(n: int, start: int = 0):
    return [
        make_event(ts_ms=T0 + i * 1000, type="data.access", account=f"stf-{i % 2}", citizen=f"c{i}")
        for i in range(start, start + n)
    ]


def test_restored_engine_continues_where_the_checkpoint_left_off():
    table: dict = {}
    first = engines(table)
    st = first.get(0)
    for offset, ev in enumerate(reads(6)):
        st.engine.process(ev)
        st.offsets["events.service"] = offset
        st.pending.append(offset)
    acked = first.checkpoint(st, now=0.0)
    assert acked == list(range(6)) and st.pending == []
    assert 0 < len([k for k in table if "|b" in k]) <= BUCKETS

    again = engines(table).get(0)  # a new worker after a crash
    assert again.offsets == {"events.service": 5}
    assert engines(table).already_applied(again, "events.service", 5)
    assert not engines(table).already_applied(again, "events.service", 6)
    continued = [w for ev in reads(6, start=6) for w in again.engine.process(ev)]
    straight = engines({}).get(0).engine
    expected = [w for ev in reads(12) for w in straight.process(ev)]
    assert [w.id for w in continued] == [w.id for w in expected] and continued


def test_checkpoint_is_due_by_count_or_time():
    pe = engines({})
    st = pe.get(1)
    assert not pe.due(st, now=st.last_checkpoint + 1)  # nothing pending
    st.pending = [1, 2]
    assert not pe.due(st, now=st.last_checkpoint + 1)
    assert pe.due(st, now=st.last_checkpoint + 61)
    st.pending = [1, 2, 3]
    assert pe.due(st, now=st.last_checkpoint)


def test_partitions_do_not_share_state():
    table: dict = {}
    pe = engines(table)
    a = pe.get(0)
    for ev in reads(4):
        a.engine.process(ev)
    pe.checkpoint(a, now=0.0)
    assert engines(table).get(1).engine.key_count() == 0
    assert engines(table).get(0).engine.key_count() == 2


def test_swap_keeps_state_of_unchanged_rules_and_drops_changed_ones():
    table: dict = {}
    pe = engines(table)
    st = pe.get(0)
    for ev in reads(8):  # 4 distinct citizens per account: one short of firing
        st.engine.process(ev)
    same = RuleSet([parse_rule(RULE.replace("title: many reads", "title: reworded"), "r.yaml")])
    pe.swap(same)
    fired = [w for ev in reads(2, start=8) for w in st.engine.process(ev)]
    assert {w.key for w in fired} == {"stf-0", "stf-1"}, "wording change must keep the window"

    stricter = RuleSet([parse_rule(RULE.replace("gte: 5", "gte: 3"), "r.yaml")])
    pe.swap(stricter)
    assert st.engine.key_count() == 0, "a logic change starts with fresh state"
