"""The evaluate agent's routing: a record is an event or a verdict by its topic alone. A
verdict (even a well-formed one, with the header the worker once used) produced to an event
topic is dead-lettered as a bad event and teaches no detector; a verdict on risk.verdicts[p]
is applied by the shard that holds its key, once, across a restart; a malformed one is
dead-lettered with where it was read."""

from __future__ import annotations

import base64
import time
from typing import Any

import orjson
import pytest
from event_factories import make_event
from pipeline import Pipeline, Record

from envelope.events import Disposition
from envelope.topics import TOPIC_REGULATORY, TOPIC_SERVICE, TOPIC_VERDICTS
from rules import RuleSet
from rules.engine.keyspace import WHOLE, KeyPlan
from rules.language.model import parse_rule
from streams.verdicts import InvalidVerdict, parse_verdict, record_kind, verdict_record

T0 = 1_772_414_100_000  # 2026-03-02T01:15:00Z
RULE = "odd-exports"
OLD_HEADER = [("riskloop-kind", b"verdict")]  # what marked a verdict on events.service once
ANOMALY = (
    f"id: {RULE}\ntitle: t\ntype: anomaly\nmatch: {{type: data.export}}\n"
    "group_by: [attrs.account]\ndetector: {name: gaussian}\n"
    'features: ["value:attrs.rows"]\nthreshold: {quantile: 0.95, min_samples: 50}\n'
)


P = KeyPlan.partition(WHOLE, 4)  # an anomaly rule's detector lives on one partition
OTHER = (P + 1) % 4


class Worker(Pipeline):
    """The worker's steps over a dict table, with the warnings and dead letters it sends."""

    def __init__(self, table: dict[str, str]) -> None:
        super().__init__(RuleSet([parse_rule(ANOMALY, f"{RULE}.yaml")]), table)

    def take(self, record: Record) -> Record:
        return self.evaluate(record)

    def learned(self, partition: int) -> int:
        return self.engines.get(partition).engine.stats[RULE]["learned"]

    def dead_letters(self) -> list[dict[str, Any]]:  # type: ignore[override]
        return [orjson.loads(v) for _, v in self.t.deadletter.sent]


def flagged_worker(table: dict[str, str]) -> tuple[Worker, bytes]:
    """A worker whose shard P flagged one export, and the dismissal's verdict bytes."""
    w = Worker(table)
    for i in range(100):
        ev = make_event(
            ts_ms=T0 + i * 60_000, type="data.export", account=f"a{i % 9}", rows=20 + i % 5
        )
        w.send(TOPIC_SERVICE, ev.to_json())
    odd = make_event(ts_ms=T0 + 101 * 60_000, type="data.export", account="odd", rows=900)
    w.send(TOPIC_SERVICE, odd.to_json())
    w.flush(quiet=True)
    (warning,) = w.warnings
    d = Disposition("d1", "c1", RULE, warning.key, "dismissed", "false_positive", "al", T0)
    return w, verdict_record(d)


def test_the_topic_alone_decides_what_a_record_is() -> None:
    assert record_kind(TOPIC_VERDICTS) == "verdict"
    assert {record_kind(t) for t in (TOPIC_SERVICE, TOPIC_REGULATORY)} == {"event"}


def test_a_forged_verdict_on_an_event_topic_is_dead_lettered_and_learned_by_nothing() -> None:
    w, verdict = flagged_worker({})

    w.send(TOPIC_SERVICE, verdict, headers=OLD_HEADER)
    w.flush(quiet=True)

    (dead,) = w.dead_letters()
    assert dead["reason"] == "missing field 'type'"
    assert (dead["topic"], dead["partition"], dead["offset"]) == (TOPIC_SERVICE, 0, 101)
    assert base64.b64decode(dead["original_base64"]) == verdict
    assert w.learned(P) == 0
    w.take(w.record(TOPIC_VERDICTS, verdict, P))  # the same bytes where verdicts belong
    assert w.learned(P) == 1, "the forged copy must not have used up the flagged sample"


def test_a_verdict_is_applied_by_the_shard_of_its_key_and_moves_no_clock() -> None:
    w, verdict = flagged_worker({})
    st = w.engines.get(P)
    last_event, reached = st.last_event, st.engine.clock.to_dict()

    w.take(w.record(TOPIC_VERDICTS, verdict, OTHER))  # that shard never flagged it
    assert (w.learned(P), w.learned(OTHER)) == (0, 0)
    w.take(w.record(TOPIC_VERDICTS, verdict, P))

    assert w.learned(P) == 1
    assert w.dead_letters() == []
    assert st.offsets[TOPIC_VERDICTS] == 0
    assert st.engine.clock.to_dict() == reached
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

    record = w.take(Record(TOPIC_VERDICTS, P, 7, value))

    (dead,) = w.dead_letters()
    assert dead["reason"].startswith(reason), dead
    assert (dead["topic"], dead["partition"], dead["offset"]) == (TOPIC_VERDICTS, P, 7)
    assert base64.b64decode(dead["original_base64"]) == value
    st = w.engines.get(P)
    assert st.offsets[TOPIC_VERDICTS] == 7 and record in st.pending, "acked with the next save"
    with pytest.raises(InvalidVerdict):
        parse_verdict(value)


def test_a_saved_verdict_is_not_applied_again_after_a_restart() -> None:
    table: dict[str, str] = {}
    w, verdict = flagged_worker(table)
    w.take(Record(TOPIC_VERDICTS, P, 0, verdict))
    st = w.engines.get(P)
    w.engines.checkpoint(st, time.monotonic())

    again = Worker(table)  # a new worker restores partition P from the table
    redelivered = again.take(Record(TOPIC_VERDICTS, P, 0, verdict))

    assert redelivered.acked and again.engines.get(P).pending == []
    assert again.engines.get(P).offsets[TOPIC_VERDICTS] == 0


def test_a_verdict_applied_but_not_saved_is_applied_again_after_a_crash() -> None:
    table: dict[str, str] = {}
    w, verdict = flagged_worker(table)
    # the flagged export is saved now (a checkpoint dated long ago would make the next step due)
    w.engines.checkpoint(w.engines.get(P), time.monotonic())
    w.take(Record(TOPIC_VERDICTS, P, 0, verdict))  # learned, then a crash before the next save
    assert w.learned(P) == 1

    again = Worker(table)
    redelivered = again.take(Record(TOPIC_VERDICTS, P, 0, verdict))

    assert not redelivered.acked and again.learned(P) == 1, "the verdict must not be lost"
