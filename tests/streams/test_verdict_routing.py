"""The evaluate agent's routing: a record is an event or a verdict by its topic alone. A
verdict (even a well-formed one, with the header the worker once used) produced to an event
topic is dead-lettered as a bad event and teaches no detector; a verdict on risk.verdicts[p]
is applied by the engine of partition p, once, across a restart; a malformed one is
dead-lettered with where it was read."""

from __future__ import annotations

import asyncio
import base64
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from event_factories import make_event

from envelope.events import Disposition
from envelope.topics import TOPIC_REGULATORY, TOPIC_SERVICE, TOPIC_VERDICTS
from rules import RuleSet
from rules.language.model import parse_rule
from streams.agents import _evaluate_record
from streams.emit import Emitter
from streams.state import PartitionEngines
from streams.verdicts import InvalidVerdict, parse_verdict, record_kind, verdict_record

T0 = 1_772_414_100_000  # 2026-03-02T01:15:00Z
RULE = "odd-exports"
OLD_HEADER = [("riskloop-kind", b"verdict")]  # what marked a verdict on events.service once
ANOMALY = (
    f"id: {RULE}\ntitle: t\ntype: anomaly\nmatch: {{type: data.export}}\n"
    "group_by: [attrs.account]\ndetector: {name: gaussian}\n"
    'features: ["value:attrs.rows"]\nthreshold: {quantile: 0.95, min_samples: 50}\n'
)


@dataclass
class Message:
    topic: str
    partition: int
    offset: int
    key: bytes = b"k"
    headers: list[tuple[str, bytes]] = field(default_factory=list)


class Record:
    """What the agent's ``stream.events()`` yields: a message, its value, ack()."""

    def __init__(self, topic: str, partition: int, offset: int, value: bytes, headers=()) -> None:
        self.message = Message(topic, partition, offset, headers=list(headers))
        self.value = value
        self.acked = False

    def ack(self) -> bool:
        self.acked = True
        return True


class Sink:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    async def send(self, key: Any = None, value: bytes = b"", **kwargs: Any) -> None:
        self.sent.append(value)


class Worker:
    """The evaluate agent's step over a dict table, with the warnings and dead letters it
    sends collected."""

    def __init__(self, table: dict[str, str]) -> None:
        self.engines = PartitionEngines(
            RuleSet([parse_rule(ANOMALY, f"{RULE}.yaml")]),
            table,
            lateness_ms=0,
            checkpoint_every=100_000,
            checkpoint_interval_s=3600,
            inputs=(TOPIC_SERVICE, TOPIC_REGULATORY),
        )
        self.warnings, self.deadletter = Sink(), Sink()
        self.emit = Emitter(self)  # type: ignore[arg-type]  # the two sinks it sends to

    def take(self, record: Record) -> Record:
        asyncio.run(_evaluate_record(self.engines, self.emit, record))
        return record

    def learned(self, partition: int) -> int:
        return self.engines.get(partition).engine.stats[RULE]["learned"]

    def dead_letters(self) -> list[dict[str, Any]]:
        return [orjson.loads(v) for v in self.deadletter.sent]


def flagged_worker(table: dict[str, str]) -> tuple[Worker, bytes]:
    """A worker whose partition 0 flagged one export, and the dismissal's verdict bytes."""
    w = Worker(table)
    for i in range(100):
        ev = make_event(
            ts_ms=T0 + i * 60_000, type="data.export", account=f"a{i % 9}", rows=20 + i % 5
        )
        w.take(Record(TOPIC_SERVICE, 0, i, ev.to_json()))
    odd = make_event(ts_ms=T0 + 101 * 60_000, type="data.export", account="odd", rows=900)
    w.take(Record(TOPIC_SERVICE, 0, 100, odd.to_json()))
    (warning,) = [orjson.loads(v) for v in w.warnings.sent]
    d = Disposition("d1", "c1", RULE, warning["key"], "dismissed", "false_positive", "al", T0)
    return w, verdict_record(d)


def test_the_topic_alone_decides_what_a_record_is() -> None:
    assert record_kind(TOPIC_VERDICTS) == "verdict"
    assert {record_kind(t) for t in (TOPIC_SERVICE, TOPIC_REGULATORY)} == {"event"}


def test_a_forged_verdict_on_an_event_topic_is_dead_lettered_and_learned_by_nothing() -> None:
    w, verdict = flagged_worker({})

    w.take(Record(TOPIC_SERVICE, 0, 101, verdict, headers=OLD_HEADER))

    (dead,) = w.dead_letters()
    assert dead["reason"] == "missing field 'type'"
    assert (dead["topic"], dead["partition"], dead["offset"]) == (TOPIC_SERVICE, 0, 101)
    assert base64.b64decode(dead["original_base64"]) == verdict
    assert w.learned(0) == 0
    w.take(Record(TOPIC_VERDICTS, 0, 0, verdict))  # the same bytes where verdicts belong
    assert w.learned(0) == 1, "the forged copy must not have used up the flagged sample"


def test_a_verdict_is_applied_by_the_engine_of_its_own_partition_and_moves_no_clock() -> None:
    w, verdict = flagged_worker({})
    st = w.engines.get(0)
    last_event, reached = st.last_event, st.clock.to_dict()

    w.take(Record(TOPIC_VERDICTS, 1, 0, verdict))  # partition 1's engine never flagged it
    assert (w.learned(0), w.learned(1)) == (0, 0)
    w.take(Record(TOPIC_VERDICTS, 0, 0, verdict))

    assert w.learned(0) == 1
    assert w.dead_letters() == []
    assert st.offsets[TOPIC_VERDICTS] == 0
    assert st.clock.to_dict() == reached and TOPIC_VERDICTS not in st.clock.holding()
    assert st.last_event == last_event, "a verdict is no event: idle time goes on"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"{not json", "bad verdict: bad JSON"),
        (b"[1, 2]", "bad verdict: not a JSON object but list"),
        (b'{"rule_id": "r", "key": "k", "id": "d"}', "bad verdict: missing field 'outcome'"),
        (b"", "bad verdict: bad JSON"),
    ],
)
def test_a_malformed_verdict_is_dead_lettered_with_where_it_was_read(value, reason) -> None:
    w, _ = flagged_worker({})

    record = w.take(Record(TOPIC_VERDICTS, 0, 7, value))

    (dead,) = w.dead_letters()
    assert dead["reason"].startswith(reason), dead
    assert (dead["topic"], dead["partition"], dead["offset"]) == (TOPIC_VERDICTS, 0, 7)
    assert base64.b64decode(dead["original_base64"]) == value
    st = w.engines.get(0)
    assert st.offsets[TOPIC_VERDICTS] == 7 and record in st.pending, "acked with the next save"
    with pytest.raises(InvalidVerdict):
        parse_verdict(value)


def test_a_saved_verdict_is_not_applied_again_after_a_restart() -> None:
    table: dict[str, str] = {}
    w, verdict = flagged_worker(table)
    w.take(Record(TOPIC_VERDICTS, 0, 0, verdict))
    st = w.engines.get(0)
    w.engines.checkpoint(st, time.monotonic())

    again = Worker(table)  # a new worker restores partition 0 from the table
    redelivered = again.take(Record(TOPIC_VERDICTS, 0, 0, verdict))

    assert redelivered.acked and again.engines.get(0).pending == []
    assert again.engines.get(0).offsets[TOPIC_VERDICTS] == 0


def test_a_verdict_applied_but_not_saved_is_applied_again_after_a_crash() -> None:
    table: dict[str, str] = {}
    w, verdict = flagged_worker(table)
    # the flagged export is saved now (a checkpoint dated long ago would make the next step due)
    w.engines.checkpoint(w.engines.get(0), time.monotonic())
    w.take(Record(TOPIC_VERDICTS, 0, 0, verdict))  # learned, then a crash before the next save
    assert w.learned(0) == 1

    again = Worker(table)
    redelivered = again.take(Record(TOPIC_VERDICTS, 0, 0, verdict))

    assert not redelivered.acked and again.learned(0) == 1, "the verdict must not be lost"
