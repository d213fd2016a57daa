"""A partition's watermark waits for every input topic: an event still on its way in one
topic is not overtaken by a deadline the other topic's newer events would have passed."""

from __future__ import annotations

from event_factories import make_event

from rules import RuleSet
from rules.engine.watermark import process_held
from rules.language.model import parse_rule
from streams.idle import release_quiet_topics
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

    assert release_quiet_topics(st, 110.0, 5.0, behind) == [], "unread events: keep waiting"
    assert release_quiet_topics(st, 102.0, 5.0, caught_up) == [], "not quiet long enough"
    fired = release_quiet_topics(st, 110.0, 5.0, caught_up)
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


class Emit:  # what the worker's timer hands to risk.warnings
    def __init__(self) -> None:
        self.sent: list = []

    async def warnings(self, ws: list) -> None:
        self.sent.extend(ws)


def idle_for_an_hour(pe: PartitionEngines):
    import time

    st = pe.get(0)
    process_held(st.engine, st.clock, REGULATORY, regulatory(T0, "inspection.finding"))
    process_held(st.engine, st.clock, SERVICE, service(T0 + 10 * 60_000))
    st.offsets = {REGULATORY: 0, SERVICE: 0}
    long_ago = time.monotonic() - 3600
    st.last_event = st.last_idle_tick = long_ago
    st.last_seen = {REGULATORY: long_ago, SERVICE: long_ago}
    return st


def test_no_partition_moves_by_wall_time_while_a_seed_is_learned():
    """The agent is busy seeding another partition: this one's events are queued behind it,
    so its quiet is not idleness and its deadline must not fire."""
    import asyncio

    from streams.idle import advance_idle

    pe = engines({})
    st = idle_for_an_hour(pe)
    before = st.engine.watermark_ms
    pe.seeding = 1
    emit = Emit()
    asyncio.run(advance_idle(pe, emit, 5.0, lambda topic, p, offset: True))  # type: ignore[arg-type]
    assert emit.sent == [] and st.engine.watermark_ms == before


def test_an_idle_partition_fires_its_deadline_as_wall_time_passes():
    """The worker's once-a-second timer: both topics caught up and quiet, the partition idle
    for an hour of wall time -> event time moves an hour on and the deadline fires."""
    import asyncio

    from streams.idle import advance_idle

    pe = engines({})
    st = idle_for_an_hour(pe)
    emit = Emit()
    asyncio.run(advance_idle(pe, emit, 5.0, lambda topic, p, offset: True))  # type: ignore[arg-type]
    assert [w.key for w in emit.sent] == ["c-1"]
    assert st.engine.watermark_ms >= T0 + 10 * 60_000 + 3_590_000
