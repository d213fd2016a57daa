"""The producer side of a publish: each event alone or in its partition's batch, delivery
counts, the rejects file, and how far each file is settled for the checkpoint.

The rejects file is opened at the first reject, so a clean run leaves none behind.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from replay.batches import MAX_BATCH_BYTES, Batches, Record
from replay.sources import Checkpoint, Pacer, RateLimit, RowFilter, Settled


@dataclass
class Options:
    """How a publish runs, checked before the broker is contacted."""

    rejects_path: Path
    partition_field: str
    pacer: Pacer | None = None
    rate: RateLimit | None = None
    row_filter: RowFilter = field(default_factory=RowFilter)
    mapping: Any = None
    encoding: str = "utf-8"
    batch: int | None = None
    batch_bytes: int = MAX_BATCH_BYTES
    checkpoint: Checkpoint | None = None
    partitions: dict[str, int] = field(default_factory=dict)


class Sender:
    """The mutable state of one publish: report, producer, delivery counts, rejects file,
    checkpoint and the settled rows of each file.

    The rejects file is opened at the first reject, so a clean run leaves none behind.
    """

    def __init__(self, report: Any, producer: AIOKafkaProducer, options: Options):
        self.report = report
        self.producer = producer
        self.options = options
        self.rejects: IO[bytes] | None = None
        self.delivered: Counter[str] = Counter()
        self.records = 0
        self.batches = (
            None
            if options.batch is None
            else Batches(options.batch, options.partitions, options.batch_bytes)
        )
        self.settled: dict[Path, Settled] = {}
        self.finished: set[Path] = set()
        self.saved_at = time.monotonic()
        self.file: Path | None = None

    def reject(self, row: int, reason: str, original: object) -> None:
        self.report.rejected += 1
        if self.rejects is None:
            self.rejects = self.options.rejects_path.open("wb")
        record: dict[str, Any] = {"row": row, "reason": reason, "original": original}
        if self.report.files > 1 and self.file is not None:
            record = {"file": str(self.file), **record}
        self.rejects.write(orjson.dumps(record, default=str) + b"\n")

    async def event(self, row: int, topic: str, key: bytes, value: bytes) -> None:
        """Hand one event (its JSON) to the producer, alone or in its partition's batch."""
        assert self.file is not None
        if self.batches is None:
            record = Record(topic, -1, key, [value])
            self.settled[self.file].wait(row, record.handle)
            await self.send(record, value)
            return
        done, handle = self.batches.add(topic, key, value, time.monotonic())
        self.settled[self.file].wait(row, handle)
        for record in done:
            await self.send(record, record.value)

    async def flush_batches(self, due_only: bool = False) -> None:
        """Send the open batches (``due_only``: those open for the linger time)."""
        if self.batches is None:
            return
        now_s = time.monotonic()
        records = self.batches.due(now_s) if due_only else self.batches.drain(now_s)
        for record in records:
            await self.send(record, record.value)

    async def send(self, record: Record, value: bytes) -> None:
        """Send one record; one the producer refuses is a reject (each event, if a batch)."""
        partition = None if record.partition < 0 else record.partition
        try:
            future = await self.producer.send(
                record.topic, value, key=record.key, partition=partition
            )
        except KafkaError as exc:
            for part in record.parts:  # the row is in the event; its number is not known here
                self.reject(0, f"not sent: {exc!r}", orjson.loads(part))
            record.handle.ok = True  # settled: it is in the rejects file
            return
        self.records += 1
        future.add_done_callback(lambda f: self._done(record, f))

    def _done(self, record: Record, future: asyncio.Future[Any]) -> None:
        error = "cancelled" if future.cancelled() else future.exception()
        if error is None:
            self.delivered[record.topic] += record.count
            record.handle.ok = True
            return
        self.report.failed += record.count
        if self.report.first_error is None:
            self.report.first_error = repr(error)

    def save(self, force: bool = False) -> None:
        """Record each file's settled row in the checkpoint, about once a second."""
        checkpoint = self.options.checkpoint
        if checkpoint is None or not (force or time.monotonic() - self.saved_at >= 1.0):
            return
        for path, settled in self.settled.items():
            settled.advance()
            done = path in self.finished and not settled.pending
            checkpoint.record(path, settled.row, done=done)
        checkpoint.save()
        self.saved_at = time.monotonic()
