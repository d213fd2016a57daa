"""Outbox read/ack bookkeeping against a real Redis.

The Kafka producer here is FakeKafkaProducer, an in-memory STAND-IN FOR KAFKA: these tests
check what the publisher reads, sends, acknowledges and retries in Redis. Publishing to a
real broker is covered by the end-to-end suite.
"""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis
from aiokafka.errors import KafkaConnectionError
from clue_factories import ALICE, CENTRE, T0, dispose_clue, make_warning

from clues.keys import OUTBOX_GROUP
from clues.model import clue_id
from clues.outbox import OutboxPublisher
from clues.store import ClueStore
from envelope.events import ClueTransition, Disposition, parse_clue_record

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


class FakeKafkaProducer:
    """STAND-IN FOR KAFKA (not a broker): records sends in memory.

    ``fail_sends`` makes the next n sends raise like an unreachable broker;
    ``die_after_send`` makes every send reach the "broker" and then raise, like a publisher
    that crashes between the broker's acknowledgement and its own XACK.
    """

    def __init__(self, fail_sends: int = 0, die_after_send: bool = False) -> None:
        self.fail_sends = fail_sends
        self.die_after_send = die_after_send
        self.sent: list[tuple[str, bytes | None, bytes | None]] = []
        self.started = self.stopped = False

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.stopped = True

    async def send_and_wait(
        self, topic: str, value: bytes | None = None, key: bytes | None = None
    ) -> None:
        if self.fail_sends:
            self.fail_sends -= 1
            raise KafkaConnectionError("fake broker unreachable")
        self.sent.append((topic, key, value))
        if self.die_after_send:
            raise RuntimeError("publisher died before XACK")


def publisher(
    redis_client: aioredis.Redis, prefix: str, consumer: str = "publisher", **kw: object
) -> OutboxPublisher:
    return OutboxPublisher(
        redis_client,
        "fake:9092",
        prefix=prefix,
        consumer=consumer,
        block_ms=10,
        **kw,  # type: ignore[arg-type]
    )


async def dispose_two(store: ClueStore) -> list[str]:
    await store.upsert_warnings([make_warning("a", "fp-a"), make_warning("b", "fp-b")])
    ids = [clue_id("fp-a"), clue_id("fp-b")]
    for n, cid in enumerate(ids):
        await dispose_clue(store, cid, "rectified", T0 + 10 * n)
    return ids


# each disposed clue: open, dispatch, claim, then the verdict and the dispose step
STEPS_PER_DISPOSED_CLUE = 5


async def pending(redis_client: aioredis.Redis, prefix: str) -> int:
    return int((await redis_client.xpending(f"{prefix}:outbox", OUTBOX_GROUP))["pending"])


def dispositions(kafka: FakeKafkaProducer) -> list[Disposition]:
    records = [parse_clue_record(v or b"") for _, _, v in kafka.sent]
    return [r for r in records if isinstance(r, Disposition)]


async def test_each_record_is_sent_keyed_by_clue_then_acked_and_removed(
    store: ClueStore, redis_client: aioredis.Redis, prefix: str
) -> None:
    ids = await dispose_two(store)
    pub, kafka = publisher(redis_client, prefix), FakeKafkaProducer()
    await pub.ensure_group()

    assert await pub.step(kafka) == 2 * STEPS_PER_DISPOSED_CLUE

    assert {t for t, _, _ in kafka.sent} == {"clue.dispositions"}
    records = [parse_clue_record(v or b"") for _, _, v in kafka.sent]
    assert all(k == r.clue_id.encode() for (_, k, _), r in zip(kafka.sent, records, strict=True))
    assert [(d.clue_id, d.code, d.outcome) for d in dispositions(kafka)] == [
        (ids[0], "rectified", "confirmed"),
        (ids[1], "rectified", "confirmed"),
    ]
    steps = [(r.clue_id, r.action) for r in records if isinstance(r, ClueTransition)]
    assert steps == [  # both opened by the one ingest batch, then worked one after the other
        (ids[0], "open"),
        (ids[1], "open"),
        *[(cid, a) for cid in ids for a in ("dispatch", "claim", "dispose")],
    ]
    assert await redis_client.xlen(f"{prefix}:outbox") == 0
    assert await pending(redis_client, prefix) == 0
    assert await pub.step(kafka) == 0  # nothing left, nothing sent twice
    assert len(kafka.sent) == 2 * STEPS_PER_DISPOSED_CLUE


async def test_a_failed_send_keeps_entries_pending_and_a_restart_sends_them(
    store: ClueStore, redis_client: aioredis.Redis, prefix: str
) -> None:
    ids = await dispose_two(store)
    first = publisher(redis_client, prefix)
    await first.ensure_group()

    with pytest.raises(KafkaConnectionError):
        await first.step(FakeKafkaProducer(fail_sends=1))

    total = 2 * STEPS_PER_DISPOSED_CLUE
    assert await redis_client.xlen(f"{prefix}:outbox") == total
    assert await pending(redis_client, prefix) == total
    restarted, kafka = publisher(redis_client, prefix), FakeKafkaProducer()
    await restarted.ensure_group()
    assert await restarted.step(kafka) == total
    assert [d.clue_id for d in dispositions(kafka)] == ids
    assert await pending(redis_client, prefix) == 0


async def test_a_send_the_broker_took_but_not_acked_is_resent_with_the_same_id(
    store: ClueStore, redis_client: aioredis.Redis, prefix: str
) -> None:
    await store.upsert_warnings([make_warning("a", "fp-a")])
    await dispose_clue(store, clue_id("fp-a"), "false_positive")
    pub = publisher(redis_client, prefix)
    await pub.ensure_group()
    dying = FakeKafkaProducer(die_after_send=True)

    with pytest.raises(RuntimeError):
        await pub.step(dying)
    kafka = FakeKafkaProducer()
    await publisher(redis_client, prefix).step(kafka)

    (before, *_), first_again = dying.sent, kafka.sent[0]
    assert before == first_again  # the same record again: same key, same bytes, same id
    assert parse_clue_record(before[2] or b"").id == f"{clue_id('fp-a')}@v1"
    assert len(kafka.sent) == STEPS_PER_DISPOSED_CLUE  # the rest went out after the restart
    assert len(dispositions(kafka)) == 1
    assert await redis_client.xlen(f"{prefix}:outbox") == 0


async def test_entries_of_a_dead_publisher_are_taken_over_once_idle(
    store: ClueStore, redis_client: aioredis.Redis, prefix: str
) -> None:
    ids = await dispose_two(store)
    dead = publisher(redis_client, prefix, consumer="api-1")
    await dead.ensure_group()
    with pytest.raises(KafkaConnectionError):
        await dead.step(FakeKafkaProducer(fail_sends=1))

    other, kafka = (
        publisher(redis_client, prefix, consumer="api-2", min_idle_ms=0),
        FakeKafkaProducer(),
    )

    assert await other.step(kafka) == 2 * STEPS_PER_DISPOSED_CLUE
    assert [d.clue_id for d in dispositions(kafka)] == ids
    assert await pending(redis_client, prefix) == 0


async def test_an_entry_of_an_unknown_kind_is_dead_lettered_not_sent(
    redis_client: aioredis.Redis, prefix: str
) -> None:
    pub, kafka = publisher(redis_client, prefix), FakeKafkaProducer()
    await pub.ensure_group()
    await redis_client.xadd(f"{prefix}:outbox", {"kind": "comment", "key": "clue-1"})

    assert await pub.step(kafka) == 1

    assert kafka.sent == []
    (dead,) = await redis_client.xrange(f"{prefix}:outbox:dead")
    assert dead[1]["kind"] == "comment" and "not a disposition" in dead[1]["reason"]
    assert await pending(redis_client, prefix) == 0


async def test_a_transition_entry_that_is_not_json_is_dead_lettered_not_sent(
    redis_client: aioredis.Redis, prefix: str
) -> None:
    pub, kafka = publisher(redis_client, prefix), FakeKafkaProducer()
    await pub.ensure_group()
    await redis_client.xadd(
        f"{prefix}:outbox", {"kind": "transition", "key": "clue-1", "value": "{not json"}
    )

    assert await pub.step(kafka) == 1

    assert kafka.sent == []
    (dead,) = await redis_client.xrange(f"{prefix}:outbox:dead")
    assert dead[1]["value"] == "{not json" and "bad transition JSON" in dead[1]["reason"]
    assert await pending(redis_client, prefix) == 0


async def test_run_publishes_dispositions_until_stopped(
    store: ClueStore, redis_client: aioredis.Redis, prefix: str
) -> None:
    kafka = FakeKafkaProducer(fail_sends=1)  # the first attempt fails, the retry succeeds
    pub = publisher(redis_client, prefix, producer_factory=lambda: kafka, retry_s=0.05)
    stop = asyncio.Event()
    task = asyncio.create_task(pub.run(stop))
    ids = await dispose_two(store)

    for _ in range(100):
        if len(kafka.sent) == 2 * STEPS_PER_DISPOSED_CLUE:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, 5)

    assert [d.clue_id for d in dispositions(kafka)] == ids
    assert kafka.started and kafka.stopped
    assert await redis_client.xlen(f"{prefix}:outbox") == 0


async def test_a_transitions_free_text_is_pseudonymised_on_the_way_out(
    store: ClueStore, redis_client: aioredis.Redis, prefix: str
) -> None:
    cid = clue_id("fp-a")
    await store.upsert_warnings([make_warning("a", "fp-a")])
    await store.transition(cid, "dispatch", CENTRE, T0)
    await store.transition(cid, "claim", ALICE, T0)
    text = "called 13800138000 about applicant=cit-42; ph-7f3a again"  # ph-7f3a: the clue's
    await store.transition(cid, "comment", ALICE, T0 + 1, {"text": text})
    pub = publisher(redis_client, prefix, masker=await store.masker())  # the API shares it
    kafka = FakeKafkaProducer()
    await pub.ensure_group()

    assert await pub.step(kafka) == 4

    comment = ClueTransition.from_json(kafka.sent[-1][2] or b"")
    assert (comment.action, comment.id) == ("comment", f"{cid}@v4")
    for secret in ("13800138000", "cit-42", "ph-7f3a"):
        assert secret not in comment.reason
    masker = await store.masker()
    assert comment.reason == masker.text(text, ("ph-7f3a",))  # the views' pseudonyms
    assert (await store.audit(cid))[-1].reason == text  # the audit keeps what was written
