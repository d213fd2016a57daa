"""A partition's watermark waits for every input topic: an event still on its way in one
topic is not overtaken by a deadline the other topic's newer events would have passed."""

from __future__ import annotations

from riskloop.testing import make_event
from rules import RuleSet
from rules.model import parse_rule
from rules.watermark import process_held
from streams.agents import _release_quiet_topics
from streams.state import PartitionEngines

T0 = 1772414100000  # Mon 2026-03-02T09:15:00+08:00
HOUR = 3_600_000
SERVICE, REGULATORY = "events.service", "events.regulatory"
RULE = """
id: not-rectified
title: finding not rectified within an hour
type: absence
group_by: [attrs.case]
anchor: {type: inspection.finding}
fulfilled_by: {type: inspection.rectified}
deadline: {after: 1h}
"""


def engines(table: dict) -> PartitionEngines:
    return PartitionEngines(
        RuleSet([parse_rule(RULE, "r.yaml")]),
        table,
        lateness_ms=0,
        checkpoint_every=100,
        checkpoint_interval_s=60,
        inputs=(SERVICE, REGULATORY),
    )


def regulatory(ts_ms: int, type: str) -> object:
    return make_event(ts_ms=ts_ms, type=type, stream="regulatory", case="c-1")


def service(ts_ms: int) -> object:
    return make_event(ts_ms=ts_ms, type="application.submitted", case="other")


def test_a_topic_running_ahead_does_not_fire_the_other_topics_deadline():
    st = engines({}).get(0)
    fired = process_held(st.engine, st.clock, REGULATORY, regulatory(T0, "inspection.finding"))
    # the service topic is fetched far ahead while the rectification is still in flight
    for i in range(1, 5):
        fired += process_held(st.engine, st.clock, SERVICE, service(T0 + i * HOUR))
    fired += process_held(
        st.engine, st.clock, REGULATORY, regulatory(T0 + 30 * 60_000, "inspection.rectified")
    )
    fired += process_held(st.engine, st.clock, REGULATORY, regulatory(T0 + 3 * HOUR, "x.y"))
    assert fired == [], "rectified in time: nothing is overdue"


def test_a_quiet_caught_up_topic_is_released_and_the_deadline_fires():
    st = engines({}).get(0)
    process_held(st.engine, st.clock, REGULATORY, regulatory(T0, "inspection.finding"))
    process_held(st.engine, st.clock, SERVICE, service(T0 + 2 * HOUR))
    st.last_seen = {REGULATORY: 100.0, SERVICE: 107.0}
    st.offsets = {REGULATORY: 0, SERVICE: 0}

    def behind(topic: str, partition: int, offset: int | None) -> bool:
        return False  # the broker holds more of every topic than was applied

    def caught_up(topic: str, partition: int, offset: int | None) -> bool:
        return True

    assert _release_quiet_topics(st, 110.0, 5.0, behind) == [], "unread events: keep waiting"
    assert _release_quiet_topics(st, 102.0, 5.0, caught_up) == [], "not quiet long enough"
    fired = _release_quiet_topics(st, 110.0, 5.0, caught_up)
    assert [(w.rule_id, w.key) for w in fired] == [("not-rectified", "c-1")]
    assert st.clock.holding() == [SERVICE], "the service topic delivered 3 s ago: still waited for"


def test_the_held_clock_survives_a_checkpoint():
    table: dict = {}
    pe = engines(table)
    st = pe.get(0)
    process_held(st.engine, st.clock, REGULATORY, regulatory(T0, "inspection.finding"))
    process_held(st.engine, st.clock, SERVICE, service(T0 + 2 * HOUR))
    st.offsets = {REGULATORY: 0, SERVICE: 0}
    st.pending = ["e1", "e2"]
    pe.checkpoint(st, now=0.0)

    again = engines(table).get(0)  # a new worker after a crash
    assert again.clock.reached() == T0, "the regulatory topic still holds the watermark"
    late = process_held(again.engine, again.clock, SERVICE, service(T0 + 3 * HOUR))
    assert late == []
    fired = process_held(again.engine, again.clock, REGULATORY, regulatory(T0 + HOUR + 1, "x.y"))
    assert [w.key for w in fired] == ["c-1"]
