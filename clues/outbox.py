"""Outbox publisher: every clue step and every verdict goes from Redis to Kafka.

Each step of a clue (open, dispatch, claim, return, dispose, ...; not the audited read of
identities) appends a ``envelope.events.ClueTransition`` to the ``{prefix}:outbox`` stream
in the same Lua call as the step, and ``dispose`` / ``dismiss`` also append the verdict's
``envelope.events.Disposition``; so nothing is recorded without its message. Entries carry
``kind`` (``transition`` | ``disposition``), ``key`` (the clue id) and ``value`` (the JSON).

This publisher reads that stream with a consumer group, sends each entry to
``clue.dispositions`` (key = clue id, so a clue's records stay in order on one partition)
and acknowledges and deletes it only after the broker acknowledged the send. Anything
unacknowledged stays pending and is sent again — after a failure, after a restart (own
pending entries first), or by another publisher once it has been idle for ``min_idle_ms``
(XAUTOCLAIM). So nothing is lost; duplicates are possible, and consumers dedupe on the
deterministic ids (``Disposition.id``; ``ClueTransition.id`` = clue id @ version).

A transition's free text (``reason``: comments, notes) and changed fields are pseudonymised
on the way out with the store's key (``clues.privacy``), as in every view but the audited
identity view; the same entry always yields the same bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import orjson
import redis.asyncio as aioredis
from aiokafka import AIOKafkaProducer
from redis.exceptions import ResponseError

from clues.keys import OUTBOX_GROUP, Keys
from clues.privacy import Masker, personal_values
from envelope.events import KIND_DISPOSITION, KIND_TRANSITION
from envelope.topics import TOPIC_DISPOSITIONS

log = logging.getLogger(__name__)

Entry = tuple[str, dict[str, str]]
MAX_BACKOFF_S = 30.0
KINDS = (KIND_DISPOSITION, KIND_TRANSITION)
MASKED = ("reason", "before", "after")  # a transition's fields that may name a person


class Producer(Protocol):
    """The part of ``aiokafka.AIOKafkaProducer`` the publisher uses."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send_and_wait(
        self, topic: str, value: bytes | None = None, key: bytes | None = None
    ) -> Any: ...


def _text(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _entries(rows: Sequence[Any]) -> list[Entry]:
    return [(_text(eid), {_text(k): _text(v) for k, v in (f or {}).items()}) for eid, f in rows]


class OutboxPublisher:
    """Publishes the outbox stream to Kafka, at least once, acknowledging after the broker."""

    def __init__(
        self,
        redis: aioredis.Redis,
        bootstrap: str,
        topic: str = TOPIC_DISPOSITIONS,
        *,
        prefix: str = "rl",
        consumer: str = "publisher",
        producer_factory: Callable[[], Producer] | None = None,
        batch: int = 100,
        block_ms: int = 1000,
        min_idle_ms: int = 60_000,
        retry_s: float = 1.0,
        masker: Masker | None = None,
    ) -> None:
        self.redis = redis
        self.bootstrap = bootstrap
        self.topic = topic
        self.keys = Keys(prefix)
        self.consumer = consumer
        self.batch = batch
        self.block_ms = block_ms
        self.min_idle_ms = min_idle_ms
        self.retry_s = retry_s
        self._factory = producer_factory or self._kafka_producer
        self._masker = masker or Masker(secrets.token_bytes(32))

    def _kafka_producer(self) -> Producer:
        return AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all")

    async def run(self, stop_event: asyncio.Event) -> None:
        """Publish until ``stop_event`` is set; broker or Redis outages are retried."""
        producer: Producer | None = None
        backoff_s = self.retry_s
        try:
            while not stop_event.is_set():
                try:
                    if producer is None:
                        producer = await self._start_producer()
                    await self.step(producer)
                    backoff_s = self.retry_s
                except Exception as exc:  # outage: entries stay pending, retry later
                    log.warning("outbox publish failed, retry in %.1fs: %s", backoff_s, exc)
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(stop_event.wait(), backoff_s)
                    backoff_s = min(backoff_s * 2, MAX_BACKOFF_S)
        finally:
            if producer is not None:
                await producer.stop()

    async def _start_producer(self) -> Producer:
        producer = self._factory()
        try:
            await producer.start()
            await self.ensure_group()
        except BaseException:
            await producer.stop()
            raise
        return producer

    async def ensure_group(self) -> None:
        """Create the consumer group (from the stream's start) if it does not exist."""
        try:
            await self.redis.xgroup_create(self.keys.outbox, OUTBOX_GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def step(self, producer: Producer) -> int:
        """Publish one batch: own pending entries, else stale ones, else new ones."""
        entries = await self._read("0", block_ms=None)
        if not entries:
            entries = await self._autoclaim()
        if not entries:
            entries = await self._read(">", block_ms=self.block_ms)
        for entry_id, fields in entries:
            await self._publish(producer, entry_id, fields)
        return len(entries)

    async def _read(self, start: str, block_ms: int | None) -> list[Entry]:
        reply = await self.redis.xreadgroup(
            OUTBOX_GROUP, self.consumer, {self.keys.outbox: start}, count=self.batch, block=block_ms
        )
        return _entries(reply[0][1]) if reply else []

    async def _autoclaim(self) -> list[Entry]:
        reply = await self.redis.xautoclaim(
            self.keys.outbox, OUTBOX_GROUP, self.consumer, self.min_idle_ms, count=self.batch
        )
        return _entries(reply[1])

    async def _publish(self, producer: Producer, entry_id: str, fields: dict[str, str]) -> None:
        kind, key, value = fields.get("kind"), fields.get("key"), fields.get("value")
        if kind not in KINDS or not key or not value:
            reason = "not a disposition or transition entry (kind/key/value)"
            await self._dead_letter(entry_id, fields, reason)
            return
        if kind == KIND_TRANSITION:
            try:
                value = await self.masked(value)
            except (ValueError, TypeError) as exc:
                await self._dead_letter(entry_id, fields, f"bad transition JSON: {exc}")
                return
        await producer.send_and_wait(self.topic, value=value.encode(), key=key.encode())
        await self._done(entry_id)

    async def masked(self, value: str) -> str:
        """A transition's JSON with its free text and changed fields pseudonymised."""
        record = orjson.loads(value)
        if not isinstance(record, dict):
            raise TypeError(f"expected a JSON object, got {type(record).__name__}")
        known = await self._known(str(record.get("clue_id", "")))
        for name in MASKED:
            if name in record:
                record[name] = self._masker.value(record[name], known)
        return orjson.dumps(record).decode()

    async def _known(self, clue_id: str) -> set[str]:
        """The clue's own personal identifiers, to mask wherever its steps' text repeats them."""
        key, details = await self.redis.hmget(self.keys.clue(clue_id), ["key", "details"])  # type: ignore[misc]
        text = [v.decode() if isinstance(v, bytes) else v or "" for v in (key, details)]
        return personal_values({"key": text[0], "details": orjson.loads(text[1] or "{}")})

    async def _done(self, entry_id: str) -> None:
        pipe = self.redis.pipeline(transaction=True)
        pipe.xack(self.keys.outbox, OUTBOX_GROUP, entry_id)
        pipe.xdel(self.keys.outbox, entry_id)
        await pipe.execute()

    async def _dead_letter(self, entry_id: str, fields: dict[str, str], reason: str) -> None:
        log.error("outbox entry %s dead-lettered: %s", entry_id, reason)
        record: dict[Any, Any] = {**fields, "entry_id": entry_id, "reason": reason}
        await self.redis.xadd(self.keys.outbox_dead, record)
        await self._done(entry_id)
