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
from clue_factories import T0, dispose_clue, make_warning

from clues.keys import OUTBOX_GROUP
from clues.model import clue_id
from clues.outbox import OutboxPublisher
from clues.store import ClueStore
from riskloop.events import Disposition

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


async def pending(redis_client: aioredis.Redis, prefix: str) -> int:
    return int((await redis_client.xpending(f"{prefix}:outbox", OUTBOX_GROUP))["pending"])


async def test_each_disposition_is_sent_keyed_by_clue_then_acked_and_removed(
    store: ClueStore, redis_client: aioredis.Redis, prefix: str
) -> None:
    ids = await dispose_two(store)
    pub, kafka = publisher(redis_client, prefix), FakeKafkaProducer()
    await pub.ensure_group()

    assert await pub.step(kafka) == 2

    assert [(t, k) for t, k, _ in kafka.sent] == [
        ("clue.dispositions", ids[0].encode()),
        ("clue.dispositions", ids[1].encode()),
    ]
    sent = [Disposition.from_json(v or b"") for _, _, v in kafka.sent]
    assert [(d.clue_id, d.code, d.outcome) for d in sent] == [
        (ids[0], "rectified", "confirmed"),
        (ids[1], "rectified", "confirmed"),
    ]
    assert await redis_client.xlen(f"{prefix}:outbox") == 0
    assert await pending(redis_client, prefix) == 0
    assert await pub.step(kafka) == 0  # nothing left, nothing sent twice
    assert len(kafka.sent) == 2


async def test_a_failed_send_keeps_entries_pending_and_a_restart_sends_them(
    store: ClueStore, redis_client: aioredis.Redis, prefix: str
) -> None:
    ids = await dispose_two(store)
    first = publisher(redis_client, prefix)
    await first.ensure_group()

    with pytest.raises(KafkaConnectionError):
        await first.step(FakeKafkaProducer(fail_sends=1))

    assert await redis_client.xlen(f"{prefix}:outbox") == 2
    assert await pending(redis_client, prefix) == 2
    restarted, kafka = publisher(redis_client, prefix), FakeKafkaProducer()
    await restarted.ensure_group()
    assert await restarted.step(kafka) == 2
    assert [k for _, k, _ in kafka.sent] == [i.encode() for i in ids]
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

    (before,), (after,) = dying.sent, kafka.sent
    assert Disposition.from_json(before[2] or b"").id == Disposition.from_json(after[2] or b"").id
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

    assert await other.step(kafka) == 2
    assert [k for _, k, _ in kafka.sent] == [i.encode() for i in ids]
    assert await pending(redis_client, prefix) == 0


async def test_an_entry_that_is_not_a_disposition_is_dead_lettered_not_sent(
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


async def test_run_publishes_dispositions_until_stopped(
    store: ClueStore, redis_client: aioredis.Redis, prefix: str
) -> None:
    kafka = FakeKafkaProducer(fail_sends=1)  # the first attempt fails, the retry succeeds
    pub = publisher(redis_client, prefix, producer_factory=lambda: kafka, retry_s=0.05)
    stop = asyncio.Event()
    task = asyncio.create_task(pub.run(stop))
    ids = await dispose_two(store)

    for _ in range(100):
        if len(kafka.sent) == 2:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, 5)

    assert [k for _, k, _ in kafka.sent] == [i.encode() for i in ids]
    assert kafka.started and kafka.stopped
    assert await redis_client.xlen(f"{prefix}:outbox") == 0
