"""A shard's watermark waits for every source (each partition of each event topic): an event
still on its way in one source is not overtaken by a deadline that another source's newer
events would have passed, wherever the producers put the events of one key."""

from __future__ import annotations

import asyncio
import time

from event_factories import make_event
from pipeline import Pipeline

from rules import RuleSet
from rules.engine.keyspace import KeyPlan
from rules.language.model import parse_rule
from streams.idle import advance_idle

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
P = KeyPlan.partition("c-1", 4)  # the shard holding case c-1


def pipeline(table: dict | None = None) -> Pipeline:
    return Pipeline(RuleSet([parse_rule(RULE, "r.yaml")]), table, idle_after_s=5.0)


def regulatory(ts_ms: int, type: str, partition: int = 0) -> bytes:
    return make_event(ts_ms=ts_ms, type=type, stream="regulatory", case="c-1").to_json()


def service(ts_ms: int) -> bytes:
    return make_event(ts_ms=ts_ms, type="application.submitted", case="other").to_json()


def everywhere(pipe: Pipeline, ts_ms: int) -> None:
    """Every source but regulatory:0 and regulatory:1 delivers up to ``ts_ms``."""
    for topic in (SERVICE, REGULATORY):
        for p in range(4):
            if topic == SERVICE or p > 1:
                pipe.send(
                    topic, service(ts_ms) if topic == SERVICE else regulatory(ts_ms, "x.y"), p
                )


def test_a_source_running_ahead_does_not_fire_a_deadline_another_source_would_meet():
    pipe = pipeline()
    pipe.send(REGULATORY, regulatory(T0, "inspection.finding"), 0)
    pipe.send(REGULATORY, regulatory(T0, "x.y"), 1)
    for i in range(1, 5):  # the others are fetched far ahead while the rectification is in flight
        everywhere(pipe, T0 + i * HOUR)
        pipe.flush()
    # the rectification of c-1 was produced to another partition than its finding
    pipe.send(REGULATORY, regulatory(T0 + 30 * 60_000, "inspection.rectified"), 1)
    pipe.send(REGULATORY, regulatory(T0 + 3 * HOUR, "x.y"), 0)
    pipe.send(REGULATORY, regulatory(T0 + 3 * HOUR, "x.y"), 1)
    pipe.flush()
    assert pipe.warnings == [], "rectified in time: nothing is overdue"
    assert pipe.engines.get(P).engine.watermark_ms >= T0 + 3 * HOUR


def test_a_quiet_caught_up_source_is_released_and_the_deadline_fires():
    pipe = pipeline()
    pipe.send(REGULATORY, regulatory(T0, "inspection.finding"), 0)
    everywhere(pipe, T0 + 2 * HOUR)
    pipe.send(REGULATORY, regulatory(T0 + 2 * HOUR, "x.y"), 1)
    pipe.flush()
    assert pipe.warnings == [], "regulatory:0 delivered just now: still waited for"
    pipe.app.consumer.ends[pipe.tp(REGULATORY, 0)] = 5  # the broker holds more of it
    pipe.flush(quiet=True)
    assert pipe.warnings == [], "unread events on regulatory:0: keep waiting"
    pipe.app.consumer.ends[pipe.tp(REGULATORY, 0)] = 1  # all of it read
    pipe.flush(quiet=True)
    assert [(w.rule_id, w.key) for w in pipe.warnings] == [("not-rectified", "c-1")]


def test_an_event_topic_no_producer_ever_wrote_to_holds_no_deadline_back():
    # Its partitions were never fetched from, so the consumer knows no highwater for them:
    # they once counted as never caught up, and no warning of any rule ever fired.
    pipe = pipeline()
    empty = {pipe.tp(SERVICE, p) for p in range(4)}
    pipe.app.consumer.unfetched |= empty
    for p in range(4):
        pipe.send(REGULATORY, regulatory(T0, "inspection.finding" if p == 0 else "x.y"), p)
    for p in range(4):
        pipe.send(REGULATORY, regulatory(T0 + 2 * HOUR, "x.y"), p)
    pipe.flush()
    assert pipe.warnings == [] and pipe.app.consumer.asked == [], "not idle yet: not asked"
    pipe.flush(quiet=True)
    assert pipe.app.consumer.asked == [empty], "the broker is asked where they end"
    assert [(w.rule_id, w.key) for w in pipe.warnings] == [("not-rectified", "c-1")]


def test_a_worker_started_before_its_producers_lets_no_partition_run_ahead():
    # Silent everywhere at the start, every source once counted as quiet and was released:
    # the first partition fetched when the producers started then moved event time on alone,
    # and the others' first events came too late (a demo on a busy machine lost 188 so).
    pipe = pipeline()
    pipe.app.consumer.unfetched |= set(pipe.app.consumer.tps)
    pipe.flush(quiet=True)  # the broker says every partition is empty
    pipe.app.consumer.unfetched.discard(pipe.tp(REGULATORY, 0))
    pipe.app.consumer.ends[pipe.tp(REGULATORY, 1)] = 2  # written, not fetched yet
    pipe.send(REGULATORY, regulatory(T0, "inspection.finding"), 0)
    pipe.send(REGULATORY, regulatory(T0 + 2 * HOUR, "x.y"), 0)
    pipe.flush()
    assert pipe.warnings == [], "regulatory:1 may hold the rectification: still waited for"
    pipe.app.consumer.unfetched.discard(pipe.tp(REGULATORY, 1))
    pipe.send(REGULATORY, regulatory(T0 + 30 * 60_000, "inspection.rectified"), 1)
    pipe.flush()
    assert pipe.warnings == [] and pipe.dead_letters == [], "rectified in time, not late"


def test_the_held_clock_survives_a_checkpoint():
    table: dict = {}
    pipe = pipeline(table)
    pipe.send(REGULATORY, regulatory(T0, "inspection.finding"), 0)
    everywhere(pipe, T0 + 2 * HOUR)
    pipe.send(REGULATORY, regulatory(T0 + 2 * HOUR, "x.y"), 1)
    pipe.flush()
    for st in pipe.engines:
        pipe.engines.checkpoint(st, now=0.0)

    again = pipeline(table)  # a new worker after a crash
    assert again.engines.get(P).engine.clock.reached() == T0, "regulatory:0 still holds it"
    everywhere(again, T0 + 3 * HOUR)
    again.flush()
    assert again.warnings == []
    again.send(REGULATORY, regulatory(T0 + HOUR + 1, "x.y"), 0)
    again.flush()
    assert [w.key for w in again.warnings] == ["c-1"]


def test_a_source_read_to_the_end_before_a_handover_holds_nothing_back():
    """A rolling restart: the stopped worker read regulatory:0 to its end and the group
    committed it; its successor reads nothing there, and that source must not hold the
    shards' watermark at the progress the checkpoint saved for it."""
    table: dict = {}
    pipe = pipeline(table)
    pipe.send(REGULATORY, regulatory(T0, "inspection.finding"), 0)
    everywhere(pipe, T0 + 10 * 60_000)
    pipe.send(REGULATORY, regulatory(T0 + 10 * 60_000, "x.y"), 1)
    pipe.flush()
    for st in pipe.engines:
        pipe.engines.checkpoint(st, now=0.0)

    again = pipeline(table)
    again.app.consumer.ends[again.tp(REGULATORY, 0)] = 1
    for p in range(4):
        again.offsets[(REGULATORY, p)] = 0 if p < 2 else -1  # read up to here by the first
    everywhere(again, T0 + 2 * HOUR)
    again.send(REGULATORY, regulatory(T0 + 2 * HOUR, "x.y"), 1)
    again.flush(quiet=True)
    assert again.warnings == [], "the committed offset is unknown yet: keep waiting"
    again.app.consumer._committed_offset[again.tp(REGULATORY, 0)] = 1  # where it started
    again.ingest.last_read.pop(f"{REGULATORY}:0")
    again.flush()
    assert again.warnings == [], "owned just now: not quiet before the idle time here too"
    again.flush(quiet=True)
    assert [w.key for w in again.warnings] == ["c-1"]


def idle_for_an_hour(pipe: Pipeline):
    pipe.send(REGULATORY, regulatory(T0, "inspection.finding"), 0)
    pipe.send(SERVICE, service(T0 + 10 * 60_000), 0)
    pipe.flush(quiet=True)  # every source caught up and quiet: released
    st = pipe.engines.get(P)
    long_ago = time.monotonic() - 3600
    st.last_event = st.last_idle_tick = long_ago
    return st


def test_no_shard_moves_by_wall_time_while_a_seed_is_learned():
    """The agent is busy seeding another partition: this one's records are queued behind it,
    so its quiet is not idleness and its deadline must not fire."""
    pipe = pipeline()
    st = idle_for_an_hour(pipe)
    before = st.engine.watermark_ms
    pipe.engines.seeding = 1
    asyncio.run(advance_idle(pipe.engines, pipe.emit, 5.0))
    assert pipe.warnings == [] and st.engine.watermark_ms == before


def test_an_idle_shard_fires_its_deadline_as_wall_time_passes():
    """The worker's once-a-second timer: every source caught up and quiet, the shard idle for
    an hour of wall time -> event time moves an hour on and the deadline fires."""
    pipe = pipeline()
    st = idle_for_an_hour(pipe)
    asyncio.run(advance_idle(pipe.engines, pipe.emit, 5.0))
    assert [w.key for w in pipe.warnings] == ["c-1"]
    assert st.engine.watermark_ms >= T0 + 10 * 60_000 + 3_590_000
