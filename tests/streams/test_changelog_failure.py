"""A checkpoint the state changelog refuses acknowledges nothing: the records it covers stay
unacknowledged (Kafka commits no offset past them), a restart restores the last good
checkpoint and applies them again, and the warnings it raises again carry the same ids.

The worker's path runs on fakes of Faust's records (tests/streams/pipeline.py). The
broker's refusal is injected at the producer boundary: ``send`` returns the future the
producer returns, which raises ``MessageSizeTooLargeError`` as aiokafka's does when the
broker answers that a record is over the topic's ``max.message.bytes``. The last test
sends real records to a real broker (Tansu) through aiokafka, whose producer refuses a
record over its ``max_request_size`` (Tansu itself enforces no record limit), and restores
from what the broker holds.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import MessageSizeTooLargeError
from event_factories import make_event
from pipeline import Pipeline, Record

from envelope.topics import TOPIC_REKEYED
from riskloop.topic_admin import create_topics
from rules import RuleSet
from rules.language.model import parse_rule
from streams import metrics as m
from streams.changelog import TableChangelog
from streams.state import COMMIT, PartitionEngines

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
NOW = int(time.time() * 1000) // MIN * MIN  # the worker judges event time by the wall clock


class Broker:
    """The producer's side of the changelog: what it accepted, and a switch that makes it
    refuse records (all, or only the commit records)."""

    def __init__(self, table: dict[str, str]) -> None:
        self.table = table
        self.refuse: str | None = None  # None, "all" or "commit"
        self.accepted: list[str] = []

    async def send(self, partition: int, key: str, value: str) -> asyncio.Future[None]:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.refuse == "all" or (self.refuse == "commit" and key.endswith(COMMIT)):
            fut.set_exception(MessageSizeTooLargeError("the broker refused the record"))
        else:
            self.accepted.append(key)
            fut.set_result(None)
        return fut


class Worker(Pipeline):
    """The worker's path with a checkpoint after every record of the repartition topic, to a
    changelog through ``broker``; ``records`` are the records it was handed, in order."""

    def __init__(self, table: dict[str, str], broker: Broker | None = None) -> None:
        super().__init__(RuleSet([parse_rule(RULE, "r.yaml")]), table, partitions=1)
        self.broker = broker or Broker(table)
        self.engines.checkpoint_every = 1
        self.engines.changelog = TableChangelog(self.broker.send, table, timeout_s=5.0)
        self.records: list[Record] = []

    def evaluate(self, rec: Record) -> Record:
        self.records.append(rec)
        return super().evaluate(rec)

    def redeliver(self, records: list[Record]) -> None:
        """What Kafka hands a new owner: the records after the last committed offset."""
        for rec in records:
            self.evaluate(
                Record(TOPIC_REKEYED, rec.message.partition, rec.message.offset, rec.value)
            )


def failures() -> float:
    return m.CHECKPOINT_FAILURES._value.get()


def account_event(account: str, ts_ms: int) -> bytes:
    return make_event(ts_ms=ts_ms, type="data.access", account=account).to_json()


def reads(pipe: Pipeline, accounts: list[str], start_s: int) -> None:
    for i, account in enumerate(accounts):
        pipe.send(SERVICE, account_event(account, NOW - 30 * MIN + (start_s + i) * 1000))
        pipe.flush(quiet=True)  # every source caught up and quiet: applied at once


def straight_ids(accounts: list[str]) -> list[str]:
    """The warning ids of one worker whose every checkpoint was written."""
    pipe = Pipeline(RuleSet([parse_rule(RULE, "r.yaml")]), partitions=1)
    reads(pipe, accounts, 0)
    return [w.id for w in pipe.warnings]


FIRST = ["a", "a", "b"]
REFUSED = ["a", "b", "b"]  # a's third read and b's third read fire while refused
AFTER = ["a", "b"]


def test_a_refused_checkpoint_acknowledges_nothing_and_a_restart_applies_its_records_again():
    table: dict[str, str] = {}
    worker = Worker(table)
    reads(worker, FIRST, 0)
    assert worker.records and all(r.acked for r in worker.records)
    good = table[f"0|{COMMIT}"]

    worker.broker.refuse = "all"
    before, failed0 = len(worker.records), failures()
    reads(worker, REFUSED, len(FIRST))
    refused = worker.records[before:]
    assert refused and not any(r.acked for r in refused), "nothing past a refused checkpoint"
    assert failures() > failed0
    assert table[f"0|{COMMIT}"] == good, "the changelog still names the last good checkpoint"
    live = [w.id for w in worker.warnings]
    assert len(live) == 2  # raised live while refused; sent before their state was saved

    again = Worker(table)  # the worker died; its successor restores the last good checkpoint
    again.redeliver(refused)
    assert [w.id for w in again.warnings] == live[-2:], "the same warnings again, same ids"
    assert all(r.acked for r in again.records)
    reads(again, AFTER, len(FIRST) + len(REFUSED))
    assert [w.id for w in again.warnings] == straight_ids(FIRST + REFUSED + AFTER)[-4:]


def test_once_the_broker_takes_writes_again_the_next_checkpoint_acknowledges_everything():
    table: dict[str, str] = {}
    worker = Worker(table)
    reads(worker, FIRST, 0)
    worker.broker.refuse = "all"
    before = len(worker.records)
    reads(worker, REFUSED, len(FIRST))
    refused = worker.records[before:]
    assert not any(r.acked for r in refused)

    worker.broker.refuse = None
    for st in worker.engines:
        st.failed_at = time.monotonic() - 3600  # the retry interval has passed
    reads(worker, AFTER, len(FIRST) + len(REFUSED))
    assert all(r.acked for r in worker.records), "the retried checkpoint covers them all"
    restored = PartitionEngines(
        worker.engines.ruleset, table, lateness_ms=0, checkpoint_every=1, checkpoint_interval_s=1
    ).get(0)
    assert restored.offsets == worker.engines.get(0).offsets
    assert [w.id for w in worker.warnings] == straight_ids(FIRST + REFUSED + AFTER)


def test_a_refused_commit_record_is_written_again_before_any_bucket_overwrites_its_slots():
    """Buckets confirmed, commit record refused: it may still have landed, so the slots it
    names are not reused until it is written again."""
    table: dict[str, str] = {}
    worker = Worker(table)
    reads(worker, FIRST, 0)
    worker.broker.refuse = "commit"
    before = len(worker.records)
    reads(worker, REFUSED[:1], len(FIRST))
    assert not any(r.acked for r in worker.records[before:])
    st = worker.engines.get(0)
    assert st.unconfirmed is not None
    commit, slots = st.unconfirmed

    worker.broker.refuse = None
    st.failed_at = None
    worker.broker.accepted.clear()
    reads(worker, REFUSED[1:], len(FIRST) + 1)
    first_commit = worker.broker.accepted.index(f"0|{COMMIT}")
    assert first_commit == 0, "the refused commit record goes first"
    assert st.unconfirmed is None and all(r.acked for r in worker.records)
    again = Worker(table)
    again.redeliver([])
    assert again.engines.get(0).offsets == st.offsets


def test_a_record_the_producer_refuses_on_a_real_broker_leaves_the_last_good_checkpoint(
    tansu, caplog
):
    """The changelog on a real broker: a checkpoint with a bucket over the producer's
    ``max_request_size`` is refused, its records stay unacknowledged, and what the broker
    holds of the changelog restores the checkpoint before it."""
    topic = f"state-refusal-{time.time_ns()}"
    asyncio.run(create_topics(tansu.bootstrap, {topic: 1}))

    async def run() -> tuple[list[bool], list[bool], dict[str, str]]:
        producer = AIOKafkaProducer(bootstrap_servers=tansu.bootstrap, max_request_size=2048)
        await producer.start()
        try:

            async def send(partition: int, key: str, value: str) -> Any:
                return await producer.send(topic, value.encode(), key=key.encode(), partition=0)

            local: dict[str, str] = {}
            pe = PartitionEngines(
                RuleSet([parse_rule(RULE, "r.yaml")]),
                local,
                lateness_ms=0,
                checkpoint_every=1,
                checkpoint_interval_s=1,
                changelog=TableChangelog(send, local, timeout_s=10.0),
            )
            st = pe.get(0)
            first = [_apply(st, "a", i) for i in range(3)]
            done_first = await pe.save(st, 0.0)
            second = [_apply(st, uuid.uuid4().hex * 4, 3 + i) for i in range(1000)]
            done_second = await pe.save(st, 1.0)
            return (
                [r in done_first for r in first],
                [r in done_second for r in second],
                await _read_back(tansu.bootstrap, topic),
            )
        finally:
            await producer.stop()

    acked_first, acked_second, held = asyncio.run(run())
    assert all(acked_first) and not any(acked_second)
    assert "not saved, its 1000 records stay unacknowledged" in caplog.text
    assert "MessageSizeTooLargeError" in caplog.text
    restored = PartitionEngines(
        RuleSet([parse_rule(RULE, "r.yaml")]),
        held,
        lateness_ms=0,
        checkpoint_every=1,
        checkpoint_interval_s=1,
    ).get(0)
    assert restored.offsets == {SERVICE: 2}, "the last good checkpoint, not the refused one"
    assert restored.engine.key_count() == 1


def _apply(st: Any, account: str, offset: int) -> Record:
    ev = make_event(ts_ms=NOW - 30 * MIN + offset * 1000, type="data.access", account=account)
    st.engine.process(ev)
    st.offsets[SERVICE] = offset
    rec = Record(SERVICE, 0, offset, ev.to_json())
    st.pending.append(rec)
    return rec


async def _read_back(bootstrap: str, topic: str) -> dict[str, str]:
    """The changelog as a restore reads it: every record the broker holds, newest wins."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        held: dict[str, str] = {}
        batches = await consumer.getmany(timeout_ms=3000)
        for records in batches.values():
            for r in records:
                assert r.key is not None and r.value is not None
                held[r.key.decode()] = r.value.decode()
        return held
    finally:
        await consumer.stop()
