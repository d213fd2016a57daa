"""The worker's path (ingest -> route -> evaluate) on fakes of Faust's records: an event out
of the event-time bounds is a dead letter at ingest, one behind its key space's watermark a
dead letter at the shard, a duplicate is skipped and counted; none moves event time. (On a
real broker: tests/e2e/test_e2e_bad_input.py.)"""

from __future__ import annotations

import time
from typing import Any

from event_factories import make_event
from pipeline import Pipeline

from envelope.time import iso
from rules import RuleSet
from rules.engine.keyspace import KeyPlan
from rules.language.model import parse_rule
from streams import metrics as m

SERVICE = "events.service"
MIN = 60_000
RULE = """
id: reads
title: three reads
type: threshold
match: {type: data.access}
group_by: [attrs.account]
window: 1h
condition: {gte: 3}
"""


def counter(metric: Any) -> float:
    return metric.labels(SERVICE)._value.get()


def test_refused_and_duplicate_events_on_the_worker_path() -> None:
    pipe = Pipeline(RuleSet([parse_rule(RULE, "r.yaml")]), lateness_ms=5 * MIN)
    now = int(time.time() * 1000) // MIN * MIN  # the worker judges by the wall clock

    def read(event_id: str, ts_ms: int) -> bytes:
        ev = make_event(ts_ms=ts_ms, type="data.access", account="stf-1", id=event_id)
        return ev.to_json()

    def far(ts: str) -> bytes:
        return read("far", now).replace(iso(now).encode(), ts.encode())

    late0, dup0 = counter(m.LATE_EVENTS), counter(m.DUPLICATE_EVENTS)
    values = [
        read("r1", now - 2 * MIN),
        read("r2", now),
        far("2099-01-01T00:00:00+08:00"),
        far("1900-01-01T00:00:00+08:00"),
        read("late", now - 10 * MIN),  # 5 min behind the watermark
        read("r1", now - 2 * MIN),  # redelivered
    ]
    for value in values:
        pipe.send(SERVICE, value)
        pipe.flush(quiet=True)  # every source caught up and quiet: none holds time back
    reasons = [d["reason"] for d in pipe.dead_letters]
    assert [r.split(":")[0] for r in reasons] == [
        "too far in the future",
        "too old",
        "too late by 5m",
    ]
    assert "2099-01-01T00:00:00+08:00 is more than 1d ahead of the wall clock" in reasons[0]
    assert "more than 400d before the wall clock" in reasons[1]
    late = pipe.dead_letters[2]
    assert (late["topic"], late["partition"], late["offset"]) == (SERVICE, 0, 4)
    assert counter(m.LATE_EVENTS) - late0 == 1
    assert counter(m.DUPLICATE_EVENTS) - dup0 == 1
    assert pipe.warnings == []  # neither the late read nor the duplicate made a third read
    p = KeyPlan.partition("stf-1", 4)
    shard = pipe.engines.get(p).engine
    assert (shard.max_ts_ms, shard.watermark_ms) == (now, now - 5 * MIN)
    pipe.send(SERVICE, read("r3", now))
    pipe.flush(quiet=True)
    assert [w.rule_id for w in pipe.warnings] == ["reads"]
