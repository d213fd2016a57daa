"""Batched messages: one record carries a JSON array of events bound for one partition.

Faust pays its cost per message, so a replay that packs events reaches the worker many times
faster. A batch holds at most ``max_events`` events and ``max_bytes`` bytes of value (a single
larger event goes alone), all for one topic and one partition: each event lands on the
partition its own key picks, and the record's key is its first event's. The worker reads a
record whose value is a JSON array as that many events, each validated (and dead-lettered)
on its own.

>>> b = Batches(max_events=2, max_bytes=1000, partitions={"t": 1})
>>> b.add("t", b"k1", b'{"id":"a"}')[0], b.add("t", b"k2", b'{"id":"b"}')[0][0].value
([], b'[{"id":"a"},{"id":"b"}]')
>>> b.add("t", b"k3", b'{"id":"c"}')[0], [r.key for r in b.drain()]
([], [b'k3'])
"""

from __future__ import annotations

from dataclasses import dataclass, field

from envelope.partitioning import partition_for
from replay.sources import Handle

MAX_BATCH_BYTES = 512 * 1024


@dataclass
class Record:
    """One message to send: ``count`` events in ``value``, settled together by ``handle``."""

    topic: str
    partition: int
    key: bytes
    parts: list[bytes] = field(default_factory=list)
    size: int = 1  # the brackets
    handle: Handle = field(default_factory=Handle)

    @property
    def count(self) -> int:
        return len(self.parts)

    @property
    def value(self) -> bytes:
        return b"[" + b",".join(self.parts) + b"]"


class Batches:
    """The open batch of each (topic, partition); ``partitions`` counts each topic's."""

    def __init__(
        self, max_events: int, partitions: dict[str, int], max_bytes: int = MAX_BATCH_BYTES
    ) -> None:
        if max_events < 1:
            raise ValueError(f"a batch holds at least 1 event, got {max_events}")
        self.max_events = max_events
        self.max_bytes = max_bytes
        self.partitions = partitions
        self._open: dict[tuple[str, int], Record] = {}
        self._slots: dict[tuple[str, bytes], tuple[str, int]] = {}  # keys repeat: hash once

    def add(self, topic: str, key: bytes, value: bytes) -> tuple[list[Record], Handle]:
        """Add one event; returns the records now complete and the handle of the event's."""
        slot = self._slots.get((topic, key))
        if slot is None:
            if len(self._slots) > 100_000:
                self._slots.clear()
            slot = self._slots[(topic, key)] = (topic, partition_for(key, self.partitions[topic]))
        done: list[Record] = []
        record = self._open.get(slot)
        if record is not None and record.size + len(value) + 1 > self.max_bytes:
            done.append(self._open.pop(slot))
            record = None
        if record is None:
            record = self._open[slot] = Record(topic, slot[1], key)
        parts = record.parts
        record.size += len(value) + (1 if parts else 0)
        parts.append(value)
        if len(parts) >= self.max_events:
            done.append(self._open.pop(slot))
        return done, record.handle

    def drain(self) -> list[Record]:
        """Every open batch, to send now (end of a file, before a pause)."""
        records = list(self._open.values())
        self._open.clear()
        return records
