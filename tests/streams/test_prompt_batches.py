"""Events go on as soon as the input is drained: the router's record leaves when everything
fetched is routed, a destination holding an event hears the progress that frees it at the
next flush, and the clue sink writes a lone warning at once and what came meanwhile together.
No fixed wait, no clock read for it."""

from __future__ import annotations

import asyncio

import pytest
from event_factories import make_event
from pipeline import Pipeline

from rules import RuleSet
from rules.engine.keyspace import KeyPlan
from rules.language.model import parse_rule
from streams.linger import GroupCommit
from streams.shuffle import Router, decode, encode

T0 = 1772414100000  # Mon 2026-03-02T09:15:00+08:00
SERVICE = "events.service"
RULE = parse_rule(
    "id: every-read\ntitle: t\ntype: match\nmatch: {type: data.access}\n"
    "group_by: [attrs.account]\n",
    "r.yaml",
)


def account_on(p: int, not_in: tuple[str, ...] = ()) -> str:
    """An account whose key hashes to partition ``p`` of 4."""
    return next(
        a
        for a in (f"acct-{i}" for i in range(1000))
        if KeyPlan.partition(a, 4) == p and a not in not_in
    )


def read(ts_ms: int, account: str) -> bytes:
    return make_event(ts_ms=ts_ms, type="data.access", account=account).to_json()


def test_a_destination_holding_an_event_hears_the_progress_that_frees_it_at_once():
    router = Router(KeyPlan(RuleSet([RULE])), partitions=4)
    router.take_event(
        f"{SERVICE}:1", make_event(ts_ms=T0 - 5, type="data.access", account=account_on(2))
    )
    router.take_event(
        f"{SERVICE}:0", make_event(ts_ms=T0, type="data.access", account=account_on(0))
    )
    first = dict(router.flush(now=0.0))
    assert len(first[0].items) == 1  # held there: source 1 has only reached T0 - 5
    # 50 ms later source 1 passes T0 with an event for another partition
    router.take_event(
        f"{SERVICE}:1", make_event(ts_ms=T0 + 1, type="data.access", account=account_on(3))
    )
    sent = dict(router.flush(now=0.05))
    # 0 and 2 hold events source 1 has now passed; 1 holds nothing: it hears it later
    assert sorted(sent) == [0, 2, 3]
    assert decode(encode(sent[0])).progress == {f"{SERVICE}:0": T0, f"{SERVICE}:1": T0 + 1}
    assert dict(router.flush(now=0.1)) == {}  # nothing more is owed: no record


def test_the_warning_fires_at_the_flush_right_after_every_source_passes_its_event():
    pipe = Pipeline(RuleSet([RULE]), idle_after_s=3600.0)
    for topic in (SERVICE, "events.regulatory"):  # every source has delivered
        for p in range(4):
            pipe.send(
                topic,
                make_event(
                    ts_ms=T0 - 10, type="x.y", stream=topic.split(".")[1], account="a"
                ).to_json(),
                p,
            )
    pipe.flush()
    pipe.send(SERVICE, read(T0, account_on(1)), 0)
    pipe.run(pipe.ingest.flush(pipe.clock + 0.01))
    pipe.deliver()
    assert pipe.warnings == []  # the other sources have not passed T0 yet
    for topic in (SERVICE, "events.regulatory"):
        for p in range(4):
            pipe.send(
                topic,
                make_event(
                    ts_ms=T0 + 1, type="x.y", stream=topic.split(".")[1], account="a"
                ).to_json(),
                p,
            )
    pipe.run(pipe.ingest.flush(pipe.clock + 0.02))  # well within PROGRESS_EVERY_S
    pipe.deliver()
    assert [w.rule_id for w in pipe.warnings] == ["every-read"]


def test_what_was_fetched_is_sent_on_once_the_consumer_has_handed_it_all_over():
    pipe = Pipeline(RuleSet([RULE]))
    pipe.ingest.queue = asyncio.Queue()  # the ingest stream's buffer: empty, all taken
    rec = pipe.send(SERVICE, read(T0, account_on(1)), 0)
    assert pipe.t.rekeyed.sent == [] and not rec.acked  # routed, not sent yet

    async def batch_handed_over() -> None:
        pipe.ingest.on_batch()
        await asyncio.sleep(0)  # the flush runs beside the agent
        await asyncio.sleep(0)

    pipe.run(batch_handed_over())
    assert [len(decode(v).items) for p, v in pipe.t.rekeyed.sent if p == 1] == [1]
    assert rec.acked  # acknowledged once the broker has the record


def test_a_batch_is_not_sent_while_the_stream_still_holds_fetched_records():
    pipe = Pipeline(RuleSet([RULE]))
    pipe.ingest.queue = queue = asyncio.Queue()
    queue.put_nowait("the next record of the fetch")
    pipe.send(SERVICE, read(T0, account_on(1)), 0)
    pipe.run(_turns(lambda: pipe.ingest.on_batch()))
    assert pipe.t.rekeyed.sent == []


async def _turns(step) -> None:
    step()
    for _ in range(3):
        await asyncio.sleep(0)


def test_the_clue_sink_writes_a_lone_warning_at_once_and_the_rest_together_after_it():
    writes: list[list[int]] = []
    gate = asyncio.Event()

    async def write(batch: list[int]) -> None:
        writes.append(batch)
        await gate.wait()

    async def main() -> None:
        sink = GroupCommit(write, max_items=500)
        await sink.add(1)
        await asyncio.sleep(0)
        assert writes == [[1]]  # not waiting for more to come
        for i in range(2, 6):
            await sink.add(i)
        gate.set()
        await sink.idle()

    asyncio.run(main())
    assert writes == [[1], [2, 3, 4, 5]]


def test_a_failed_write_is_raised_by_the_next_add_not_swallowed():
    async def write(batch: list[int]) -> None:
        raise ConnectionError("store gone")

    async def main() -> None:
        sink = GroupCommit(write, max_items=10)
        await sink.add(1)
        await asyncio.sleep(0)
        await sink.add(2)

    with pytest.raises(ConnectionError, match="store gone"):
        asyncio.run(main())


def test_the_consumer_says_when_a_fetched_batch_is_all_handed_over(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from faust.transport.consumer import Consumer as FaustConsumer

    from streams.consumer import Consumer

    async def fetched(self: object, timeout: float):  # one fetch of two records
        for item in ("record 1", "record 2"):
            yield item

    monkeypatch.setattr(FaustConsumer, "getmany", fetched)
    consumer = Consumer.__new__(Consumer)  # the hook alone, no broker
    seen: list[tuple[str, bool]] = []
    consumer.after_batch = [lambda: seen.append(("after", consumer.delivering))]

    async def drain() -> None:
        async for item in consumer.getmany(timeout=1.0):
            seen.append((item, consumer.delivering))

    asyncio.run(drain())
    assert seen == [("record 1", True), ("record 2", True), ("after", False)]
