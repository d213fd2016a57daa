"""An in-process worker for unit tests: the ingest router and the evaluate step over fakes of
Faust's records, topics and consumer, on one event loop. No broker: the end-to-end suites
run the same agents on a real one (tests/e2e)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import orjson
from faust.types import TP

from envelope.events import RiskWarning
from envelope.settings import Settings
from envelope.topics import EVENT_TOPICS, TOPIC_REKEYED, TOPIC_VERDICTS
from rules import RuleSet
from streams.emit import Emitter
from streams.evaluate import evaluate_record
from streams.ingest import Ingest
from streams.state import PartitionEngines


@dataclass
class Message:
    topic: str
    partition: int
    offset: int
    key: bytes | None = b"k"
    headers: list[tuple[str, bytes]] = field(default_factory=list)


class Record:
    """What an agent's ``stream.events()`` yields: a message, its value, ack()."""

    def __init__(
        self, topic: str, partition: int, offset: int, value: bytes, headers: Any = ()
    ) -> None:
        self.message = Message(topic, partition, offset, headers=list(headers))
        self.value = value
        self.acked = False

    def ack(self) -> bool:
        self.acked = True
        return True


class Topic:
    """Collects what is sent: ``(partition, value)``, and the keys in ``keys``."""

    def __init__(self) -> None:
        self.sent: list[tuple[int | None, bytes]] = []
        self.keys: list[Any] = []

    async def send(
        self, key: Any = None, value: bytes = b"", partition: int | None = None, **kw: Any
    ) -> asyncio.Future[None]:
        self.sent.append((partition, value))
        self.keys.append(key)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


@dataclass
class Topics:
    rekeyed: Topic = field(default_factory=Topic)
    warnings: Topic = field(default_factory=Topic)
    deadletter: Topic = field(default_factory=Topic)
    verdicts: Topic = field(default_factory=Topic)


class Consumer:
    """Owns every partition of the event topics; the broker holds what was sent."""

    def __init__(self, partitions: int) -> None:
        self.tps = {TP(t, p) for t in EVENT_TOPICS.values() for p in range(partitions)}
        self.ends: dict[TP, int] = {}  # what the broker holds of each partition
        self._committed_offset: dict[TP, int] = {}  # as faust's: the next offset to read
        self.unfetched: set[TP] = set()  # no fetch response yet: highwater unknown (None)
        self.asked: list[set[TP]] = []  # the end offsets asked of the broker

    def assignment(self) -> set[TP]:
        return self.tps

    def highwater(self, tp: TP) -> int | None:
        return None if tp in self.unfetched else self.ends.get(tp, 0)

    async def highwaters(self, *tps: TP) -> dict[TP, int]:
        self.asked.append(set(tps))
        return {tp: self.ends.get(tp, 0) for tp in tps}


@dataclass
class App:
    consumer: Consumer


class Pipeline:
    """``send`` records to the event topics, ``flush`` the router and deliver what it sent to
    the evaluate step; ``warnings`` and ``dead_letters`` are what the worker sent out."""

    def __init__(self, ruleset: RuleSet, table: dict[str, str] | None = None, **settings: Any):
        self.settings = Settings(**({"partitions": 4, "lateness_ms": 0} | settings))
        self.loop = asyncio.new_event_loop()
        self.t = Topics()
        self.table: dict[str, str] = {} if table is None else table
        self.engines = PartitionEngines(
            ruleset,
            self.table,
            lateness_ms=self.settings.lateness_ms,
            checkpoint_every=100_000,
            checkpoint_interval_s=3600,
            sources=tuple(
                f"{t}:{p}" for t in EVENT_TOPICS.values() for p in range(self.settings.partitions)
            ),
        )
        self.app = App(Consumer(self.settings.partitions))
        self.ingest = Ingest(self.app, self.settings, self.t, self.engines.plan)  # type: ignore[arg-type]
        self.emit = Emitter(self.t)  # type: ignore[arg-type]
        self.offsets: dict[tuple[str, int], int] = {}
        self.delivered = 0
        self.clock = 0.0

    @staticmethod
    def tp(topic: str, partition: int) -> TP:
        return TP(topic, partition)

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def record(self, topic: str, value: bytes, partition: int = 0, headers: Any = ()) -> Record:
        offset = self.offsets.get((topic, partition), -1) + 1
        self.offsets[(topic, partition)] = offset
        self.app.consumer.ends[TP(topic, partition)] = offset + 1
        return Record(topic, partition, offset, value, headers)

    def send(self, topic: str, value: bytes, partition: int = 0, headers: Any = ()) -> Record:
        """One record read by the ingest agent (not yet flushed)."""
        rec = self.record(topic, value, partition, headers)
        self.ingest.read_offsets[TP(topic, partition)] = rec.message.offset
        self.run(self.ingest.take(rec))
        return rec

    def flush(self, quiet: bool = False) -> None:
        """The router's flush, and every record it sent applied by the evaluate step;
        ``quiet``: as if every source had been silent for the idle time before it."""
        if quiet:
            for tp in self.app.consumer.tps:
                self.ingest.last_read[f"{tp.topic}:{tp.partition}"] = -1e9
        self.clock += 1.0  # a second between flushes: progress-only records are due
        self.run(self.ingest.flush(self.clock))
        self.deliver()

    def deliver(self) -> None:
        for p, value in self.t.rekeyed.sent[self.delivered :]:
            assert p is not None
            self.evaluate(self.record(TOPIC_REKEYED, value, p))
        self.delivered = len(self.t.rekeyed.sent)

    def evaluate(self, rec: Record) -> Record:
        self.run(evaluate_record(self.engines, self.emit, rec))  # type: ignore[arg-type]
        return rec

    def verdict(self, partition: int, value: bytes) -> Record:
        return self.evaluate(self.record(TOPIC_VERDICTS, value, partition))

    @property
    def warnings(self) -> list[RiskWarning]:
        return [RiskWarning.from_json(v) for _, v in self.t.warnings.sent]

    @property
    def dead_letters(self) -> list[dict[str, Any]]:
        return [orjson.loads(v) for _, v in self.t.deadletter.sent]
