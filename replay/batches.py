"""Batched messages: one record carries a JSON array of events bound for one partition.

Faust pays its cost per message, so a replay that packs events reaches the worker many times
faster. A batch holds at most ``max_events`` events and ``max_bytes`` bytes of value (a single
larger event goes alone), all for one topic and one partition: each event lands on the
partition its own key picks, and the record's key is its first event's. The worker reads a
record whose value is a JSON array as that many events, each validated (and dead-lettered)
on its own.

A partition must not fall silent while its events wait in a batch: the worker counts a
caught-up source that sent nothing for a while (and one never read) as idle and lets the
watermark pass it, so the events that batch holds would come too late. Hence two rules on
the wall clock ``now_s`` (an argument): an event for a partition that sent nothing for
``linger_s`` goes out at once, and an open batch goes out once it is ``linger_s`` old.

>>> b = Batches(max_events=2, max_bytes=1000, partitions={"t": 1})
>>> [r.value for r in b.add("t", b"k1", b'{"id":"a"}', now_s=0.0)[0]]  # the first goes at once
[b'[{"id":"a"}]']
>>> b.add("t", b"k2", b'{"id":"b"}', 0.1)[0], b.add("t", b"k3", b'{"id":"c"}', 0.2)[0][0].value
([], b'[{"id":"b"},{"id":"c"}]')
>>> b.add("t", b"k4", b'{"id":"d"}', now_s=0.3)[0], b.due(now_s=0.5), [r.key for r in b.due(1.3)]
([], [], [b'k4'])
>>> b.add("t", b"k5", b'{"id":"e"}', now_s=1.4)[0], [r.key for r in b.drain(now_s=1.5)]
([], [b'k5'])
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from envelope.partitioning import partition_for
from replay.sources import Handle

MAX_BATCH_BYTES = 512 * 1024
LINGER_S = 1.0  # well under the worker's RISKLOOP_IDLE_AFTER_S (5 s by default)


@dataclass
class Record:
    """One message to send: ``count`` events in ``value``, settled together by ``handle``."""

    topic: str
    partition: int
    key: bytes
    parts: list[bytes] = field(default_factory=list)
    size: int = 1  # the brackets
    handle: Handle = field(default_factory=Handle)
    opened_s: float = 0.0

    @property
    def count(self) -> int:
        return len(self.parts)

    @property
    def value(self) -> bytes:
        return b"[" + b",".join(self.parts) + b"]"


class Batches:
    """The open batch of each (topic, partition); ``partitions`` counts each topic's."""

    def __init__(
        self,
        max_events: int,
        partitions: dict[str, int],
        max_bytes: int = MAX_BATCH_BYTES,
        linger_s: float = LINGER_S,
    ) -> None:
        if max_events < 1:
            raise ValueError(f"a batch holds at least 1 event, got {max_events}")
        self.max_events = max_events
        self.max_bytes = max_bytes
        self.linger_s = linger_s
        self.partitions = partitions
        self._open: dict[tuple[str, int], Record] = {}  # in the order they were opened
        self._sent_s: dict[tuple[str, int], float] = {}  # when each partition last sent
        self._due_s = math.inf  # no open batch is due before
        self._slots: dict[tuple[str, bytes], tuple[str, int]] = {}  # keys repeat: hash once

    def add(
        self, topic: str, key: bytes, value: bytes, now_s: float
    ) -> tuple[list[Record], Handle]:
        """Add one event; returns the records now complete and the handle of the event's."""
        slot = self._slots.get((topic, key))
        if slot is None:
            if len(self._slots) > 100_000:
                self._slots.clear()
            slot = self._slots[(topic, key)] = (topic, partition_for(key, self.partitions[topic]))
        done = self.due(now_s) if now_s >= self._due_s else []
        record = self._open.get(slot)
        if record is not None and record.size + len(value) + 1 > self.max_bytes:
            done.append(self._close(slot, now_s))
            record = None
        if record is None:
            record = self._open[slot] = Record(topic, slot[1], key, opened_s=now_s)
            self._due_s = min(self._due_s, now_s + self.linger_s)
        parts = record.parts
        record.size += len(value) + (1 if parts else 0)
        parts.append(value)
        quiet = now_s - self._sent_s.get(slot, -self.linger_s) >= self.linger_s
        if quiet or len(parts) >= self.max_events:
            done.append(self._close(slot, now_s))
        return done, record.handle

    def due(self, now_s: float) -> list[Record]:
        """The open batches ``linger_s`` old or older, to send now."""
        done = []
        self._due_s = math.inf
        for slot, record in list(self._open.items()):  # the oldest first
            if now_s - record.opened_s < self.linger_s:
                self._due_s = record.opened_s + self.linger_s
                break
            done.append(self._close(slot, now_s))
        return done

    def drain(self, now_s: float) -> list[Record]:
        """Every open batch, to send now (end of a file, before a pause)."""
        return [self._close(slot, now_s) for slot in list(self._open)]

    def _close(self, slot: tuple[str, int], now_s: float) -> Record:
        self._sent_s[slot] = now_s
        return self._open.pop(slot)
