"""Per-partition engines made durable in batches.

Each assigned partition of the event topics has its own :class:`~rules.engine.engine.Engine`.
Events of a partition are held un-acknowledged until a checkpoint has saved the state they
changed together with the last applied offset and event time per topic; only then are they
acknowledged, so Kafka never commits past state that was not saved. State keys are grouped into
``BUCKETS`` buckets per partition and a checkpoint rewrites only the buckets that changed:
at most ``BUCKETS`` table writes per partition per checkpoint, however many events or keys
(one table write per event would cost 60 % of throughput). After a crash the engine is
restored from the table and events at or below the saved offsets are skipped: nothing is
counted twice, nothing is lost.

Works over any ``MutableMapping[str, str]``; the worker passes a changelog-backed Faust
table, tests pass a dict. Values are text (base64 of the pickled bucket, JSON of the
offsets): Faust's changelog recovery decodes values as text, and raw bytes do not survive it.

A partition with no saved state at all is new to this deployment: with a ``seed`` (e.g. a
:class:`replay.seed.SeedFile`) its fresh engine first learns silently from the seed's events
of that partition, so ``new_value`` and ``spike`` baselines do not flood. What it learned is
saved at the next checkpoint like any other state; a partition restored from the table is
never seeded again. The worker seeds with :meth:`PartitionEngines.get_async`: the file is
read and learned in a worker thread, so the event loop keeps heartbeating and serving metrics
meanwhile; a partition revoked during its seeding is dropped, and a rule set published
during it is applied to the seeded engine before its first event.
"""

from __future__ import annotations

import asyncio
import base64
import pickle
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from envelope.events import Event
from rules import RuleSet
from rules.engine.admission import Bounds
from rules.engine.engine import Engine
from rules.engine.watermark import InputClock

OFFSETS = "offsets"
CLOCK = "clock"
BUCKETS = 64
StateKey = tuple[str, str]
Seed = Callable[[int], Iterable[Event]]  # partition -> past events of that partition


def bucket_of(key: StateKey) -> int:
    """Stable bucket of a state key (crc32, not Python's salted hash).

    >>> bucket_of(("rule@abc", "330106|noise"))
    46
    """
    return zlib.crc32(("\x1f".join(key)).encode()) % BUCKETS


@dataclass
class PartitionState:
    partition: int
    engine: Engine
    offsets: dict[str, int] = field(default_factory=dict)
    pending: list[Any] = field(default_factory=list)
    buckets: dict[int, dict[StateKey, bytes]] = field(default_factory=dict)
    rewrite: bool = False  # after a rule swap every bucket is written at the next checkpoint
    # event time every input topic has reached (held back by a topic still delivering),
    # and when each topic last delivered (wall time, to release one that went quiet)
    clock: InputClock = field(default_factory=InputClock)
    last_seen: dict[str, float] = field(default_factory=dict)

    last_checkpoint: float = field(default_factory=time.monotonic)
    last_event: float = field(default_factory=time.monotonic)
    last_idle_tick: float = field(default_factory=time.monotonic)


class PartitionEngines:
    def __init__(
        self,
        ruleset: RuleSet,
        table: MutableMapping[str, str],
        *,
        lateness_ms: int,
        checkpoint_every: int,
        checkpoint_interval_s: float,
        inputs: tuple[str, ...] = (),
        seed: Seed | None = None,
        bounds: Bounds | None = None,
    ) -> None:
        self.ruleset = ruleset
        self.bounds = bounds  # event-time bounds and dedup horizon of every engine
        self.seed = seed  # for partitions without saved state
        self.inputs = inputs  # the input topics every partition's watermark waits for
        self.table = table
        self.lateness_ms = lateness_ms
        self.checkpoint_every = checkpoint_every
        self.checkpoint_interval_s = checkpoint_interval_s
        self.parts: dict[int, PartitionState] = {}
        self._revocations: dict[int, int] = {}  # partition -> times revoked
        # Seeds being learned now. The one agent waits on it for every partition, so while it
        # runs no partition may advance by wall time: their events are queued, not missing.
        self.seeding = 0

    def get(self, partition: int) -> PartitionState:
        st = self.parts.get(partition)
        if st is None:
            st, fresh = self._restore(partition)
            if fresh and self.seed is not None:
                st.engine.seed(self.seed(partition))
            self.parts[partition] = st
        return st

    async def get_async(self, partition: int) -> PartitionState | None:
        """:meth:`get`, with the seed read and learned in a worker thread (the new engine is
        not shared until it is done). None if the partition was revoked in the meantime: its
        events will be delivered again to its new owner."""
        st = self.parts.get(partition)
        if st is not None:
            return st
        st, fresh = self._restore(partition)
        if fresh and self.seed is not None:
            revoked, ruleset = self._revocations.get(partition, 0), self.ruleset
            self.seeding += 1
            try:
                await asyncio.to_thread(st.engine.seed, self.seed(partition))
            finally:
                self.seeding -= 1
            if self._revocations.get(partition, 0) != revoked:
                return None
            if partition in self.parts:  # another caller finished first; keep one engine
                return self.parts[partition]
            if self.ruleset is not ruleset:  # a rule set arrived while seeding
                self._carry_over(st, self._namespaces(self.ruleset))
        self.parts[partition] = st
        return st

    def _new_engine(self, partition: int) -> Engine:
        return Engine(
            self.ruleset, partition=partition, lateness_ms=self.lateness_ms, bounds=self.bounds
        )

    def _restore(self, partition: int) -> tuple[PartitionState, bool]:
        """The partition's engine from the table, and True when the table held nothing of
        it (a partition new to this deployment, to be seeded)."""
        engine = self._new_engine(partition)
        prefix = f"{partition}|"
        buckets: dict[int, dict[StateKey, bytes]] = {}
        offsets: dict[str, int] = {}
        clock = InputClock(self.inputs)
        saved = False
        for k, v in list(self.table.items()):
            if not isinstance(k, str) or not k.startswith(prefix) or v is None:
                continue
            saved = True
            name = k[len(prefix) :]
            if name == OFFSETS:
                offsets = orjson.loads(v)
            elif name == CLOCK:
                clock = InputClock.from_dict(orjson.loads(v), self.inputs)
            elif name.startswith("b"):
                buckets[int(name[1:])] = pickle.loads(base64.b64decode(v))
        engine.restore(item for b in buckets.values() for item in b.items())
        return PartitionState(partition, engine, offsets, buckets=buckets, clock=clock), not saved

    @staticmethod
    def already_applied(st: PartitionState, topic: str, offset: int) -> bool:
        done = st.offsets.get(topic)
        return done is not None and offset <= done

    def due(self, st: PartitionState, now: float) -> bool:
        return bool(st.pending) and (
            len(st.pending) >= self.checkpoint_every
            or now - st.last_checkpoint >= self.checkpoint_interval_s
        )

    def checkpoint(self, st: PartitionState, now: float) -> list[Any]:
        """Write what changed; return the events that may now be acknowledged.

        Must run while an event of ``st.partition`` is current (Faust writes a table key to
        the changelog partition of the event being processed).
        """
        p = st.partition
        changed = _absorb_dirty(st) | (set(st.buckets) if st.rewrite else set())
        st.rewrite = False
        for b in changed:
            blob = pickle.dumps(st.buckets[b], protocol=5)
            self.table[f"{p}|b{b:03d}"] = base64.b64encode(blob).decode("ascii")
        self.table[f"{p}|{OFFSETS}"] = orjson.dumps(st.offsets).decode()
        self.table[f"{p}|{CLOCK}"] = orjson.dumps(st.clock.to_dict()).decode()
        pending, st.pending = st.pending, []
        st.last_checkpoint = now
        return pending

    def swap(self, ruleset: RuleSet) -> None:
        """Run ``ruleset`` from now on. Every partition's state is carried over for rules whose
        logic is unchanged (same namespace); state of removed or changed rules is dropped."""
        self.ruleset = ruleset
        keep = self._namespaces(ruleset)
        for st in self.parts.values():
            self._carry_over(st, keep)

    @staticmethod
    def _namespaces(ruleset: RuleSet) -> set[str]:
        return {f"{r.id}@{r.logic_hash}" for r in ruleset.rules} | {"__engine__"}

    def _carry_over(self, st: PartitionState, keep: set[str]) -> None:
        """A new engine of the current rule set for ``st``, with the state of ``keep``."""
        _absorb_dirty(st)
        for b, bucket in st.buckets.items():
            st.buckets[b] = {k: v for k, v in bucket.items() if k[0] in keep}
        engine = self._new_engine(st.partition)
        engine.restore(item for bucket in st.buckets.values() for item in bucket.items())
        st.engine = engine
        st.rewrite = True

    def revoke(self, partitions: set[int]) -> None:
        """Forget engines of partitions this worker no longer owns; their un-acked events
        will be delivered again to the new owner."""
        for p in partitions:
            self.parts.pop(p, None)
            self._revocations[p] = self._revocations.get(p, 0) + 1

    def __iter__(self) -> Iterator[PartitionState]:
        return iter(list(self.parts.values()))


def _absorb_dirty(st: PartitionState) -> set[int]:
    """Move the engine's changes since the last call into the in-memory buckets; return the
    buckets that changed."""
    changed = set()
    for key, blob in st.engine.export_dirty().items():
        b = bucket_of(key)
        bucket = st.buckets.setdefault(b, {})
        if blob is None:
            bucket.pop(key, None)
        else:
            bucket[key] = blob
        changed.add(b)
    return changed
