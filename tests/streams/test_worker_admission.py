"""The worker's ingest path (``_take_event`` -> ``_apply``) on fakes of Faust's events: a
refused event is a dead letter with its reason and counted, a duplicate is skipped and
counted, neither moves the partition's event time. (On a real broker:
tests/e2e/test_e2e_bad_input.py.)"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from event_factories import make_event

from envelope.time import iso
from rules import RuleSet
from rules.language.model import parse_rule
from streams import metrics as m
from streams.agents import _take_event
from streams.state import PartitionEngines

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


@dataclass
class Message:
    topic: str
    partition: int = 0
    offset: int = 0
    key: bytes = b"330106"


@dataclass
class FakeEvent:
    value: bytes
    message: Message = field(default_factory=lambda: Message(SERVICE))


class Emitter:
    def __init__(self) -> None:
        self.dead: list[str] = []
        self.raised: list[Any] = []

    async def deadletter(self, event: Any, reason: str) -> None:
        self.dead.append(reason)

    async def warnings(self, warnings: list[Any]) -> None:
        self.raised += warnings


def counter(metric: Any) -> float:
    return metric.labels(SERVICE)._value.get()


def test_refused_and_duplicate_events_on_the_worker_path() -> None:
    pe = PartitionEngines(
        RuleSet([parse_rule(RULE, "r.yaml")]),
        {},
        lateness_ms=5 * MIN,
        checkpoint_every=100,
        checkpoint_interval_s=60,
    )
    st = pe.get(0)
    emit = Emitter()
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
        asyncio.run(_take_event(st, emit, FakeEvent(value)))  # type: ignore[arg-type]
    assert [r.split(":")[0] for r in emit.dead] == [
        "too far in the future",
        "too old",
        "too late by 5m",
    ]
    assert "2099-01-01T00:00:00+08:00 is more than 1d ahead of the wall clock" in emit.dead[0]
    assert "more than 400d before the wall clock" in emit.dead[1]
    assert counter(m.LATE_EVENTS) - late0 == 1
    assert counter(m.DUPLICATE_EVENTS) - dup0 == 1
    assert emit.raised == []  # neither the late read nor the duplicate made a third read
    assert (st.engine.max_ts_ms, st.engine.watermark_ms) == (now, now - 5 * MIN)
    asyncio.run(_take_event(st, emit, FakeEvent(read("r3", now))))  # type: ignore[arg-type]
    assert [w.rule_id for w in emit.raised] == ["reads"]
