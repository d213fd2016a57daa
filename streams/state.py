"""Per-partition shards made durable in batches.

Each assigned partition of the repartition topic has its own :class:`~rules.engine.shard.Shard`
(an engine per key space, and the progress of every source). Records of a partition are held
un-acknowledged until a checkpoint has saved the state they
changed together with the last applied offset and event time per topic; only then are they
acknowledged, so Kafka never commits past state that was not saved. State keys are grouped into
``BUCKETS`` buckets per partition and a checkpoint rewrites only the buckets that changed:
at most ``BUCKETS`` table writes per partition per checkpoint, however many events or keys
(one table write per event would cost 60 % of throughput). After a crash the engine is
restored from the table and events at or below the saved offsets are skipped: nothing is
counted twice, nothing is lost.

A checkpoint is atomic although it is several table writes: each bucket has two keys (slots)
and a checkpoint writes a changed bucket to the slot the previous checkpoint did not use,
then one commit record (offsets, the slot of every bucket; the shard's clock is state). The
changelog keeps one partition's writes in order, so a worker killed in the middle of a
checkpoint leaves the previous commit and every bucket it names intact; restoring a mix of
new buckets and old offsets would apply the events in between twice.

Works over any ``MutableMapping[str, str]``; the worker passes a changelog-backed Faust
table, tests pass a dict. Values are text (base64 of the pickled bucket, JSON of the
offsets): Faust's changelog recovery decodes values as text, and raw bytes do not survive it.

A checkpoint is written through a :class:`~streams.changelog.Changelog` and its records are
acknowledged only once every write of it is confirmed (:meth:`PartitionEngines.save`): a write
the broker refuses leaves them unacknowledged, to be saved again at the next checkpoint.

A partition with no saved state at all is new to this deployment: with a ``seed`` (e.g. a
:class:`replay.seed.SeedFile`) its fresh shard first learns silently from the seed's events
of its keys, so ``new_value`` and ``spike`` baselines do not flood. What it learned is
saved at the next checkpoint like any other state; a partition restored from the table is
never seeded again. The worker seeds with :meth:`PartitionEngines.get_async`: the file is
read and learned in a worker thread, so the event loop keeps heartbeating and serving metrics
meanwhile; a partition revoked during its seeding is dropped, and a rule set published
during it is applied to the seeded engine before its first event.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from envelope.events import Event
from rules import RuleSet
from rules.engine.admission import Bounds
from rules.engine.keyspace import KeyPlan
from rules.engine.shard import Shard
from streams import metrics as m
from streams.changelog import (
    Changelog,
    ChangelogWriteFailed,
    MappingChangelog,
    decode_bucket,
    encode_bucket,
)
from streams.steps import InFlight

log = logging.getLogger("riskloop.worker")

# The checkpoint's commit record: offsets, clock and which slot holds each bucket. Written
# last; buckets go to the slot the last commit does not name, so a checkpoint cut short by a
# crash (some buckets written, the commit not) leaves the previous checkpoint whole.
COMMIT = "commit"
BUCKETS = 64
StateKey = tuple[str, str]
# (partition, key plan) -> past (key space, event) of that partition
Seed = Callable[[int, KeyPlan], Iterable[tuple[str, Event]]]


def bucket_of(key: StateKey) -> int:
    """Stable bucket of a state key (crc32, not Python's salted hash).

    >>> bucket_of(("rule@abc", "330106|noise"))
    46
    """
    return zlib.crc32(("\x1f".join(key)).encode()) % BUCKETS


@dataclass
class PartitionState:
    partition: int
    engine: Shard
    offsets: dict[str, int] = field(default_factory=dict)
    pending: list[Any] = field(default_factory=list)
    buckets: dict[int, dict[StateKey, bytes]] = field(default_factory=dict)
    rewrite: bool = False  # after a rule swap every bucket is written at the next checkpoint
    # bucket -> the slot (0 or 1) of its table key that the last commit record names
    slots: dict[int, int] = field(default_factory=dict)
    unsaved: set[int] = field(default_factory=set)  # buckets of a checkpoint that failed
    # a commit record whose write failed without saying whether it landed, and its slots:
    # written again before any bucket, so no slot that it may name is overwritten
    unconfirmed: tuple[str, dict[int, int]] | None = None
    saving: bool = False  # a checkpoint is being written: the next one waits for it
    failed_at: float | None = None  # when the last checkpoint failed (monotonic)

    last_checkpoint: float = field(default_factory=time.monotonic)
    last_event: float = field(default_factory=time.monotonic)
    last_idle_tick: float = field(default_factory=time.monotonic)


@dataclass
class Checkpoint:
    """One checkpoint of a partition as it is written: ``buckets`` (table key -> value) of
    the ``changed`` bucket numbers, then ``commit`` (naming ``slots``) under ``commit_key``;
    ``pending`` are the records it covers."""

    changed: set[int]
    slots: dict[int, int]
    buckets: dict[str, str]
    commit_key: str
    commit: str
    pending: list[Any]
    buckets_done: bool = False  # every bucket confirmed: the commit record was sent


class PartitionEngines:
    def __init__(
        self,
        ruleset: RuleSet,
        table: MutableMapping[str, str],
        *,
        lateness_ms: int,
        checkpoint_every: int,
        checkpoint_interval_s: float,
        sources: tuple[str, ...] = (),
        seed: Seed | None = None,
        bounds: Bounds | None = None,
        changelog: Changelog | None = None,
        partitions: int | None = None,
    ) -> None:
        self.ruleset = ruleset
        self.bounds = bounds  # event-time bounds and dedup horizon of every engine
        self.seed = seed  # for partitions without saved state
        self.sources = sources  # what every shard's watermark waits for (streams.shuffle)
        self.plan = KeyPlan(ruleset)
        self.table = table
        # where checkpoints go and restores read; by default ``table`` itself
        self.changelog: Changelog = changelog or MappingChangelog(table)
        self.lateness_ms = lateness_ms
        self.partitions = partitions  # of the repartition topic, when known
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
                st.engine.seed(self.seed(partition, st.engine.plan))
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
                await asyncio.to_thread(st.engine.seed, self.seed(partition, st.engine.plan))
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

    def _new_engine(self, partition: int) -> Shard:
        return Shard(
            self.plan, partition, self.lateness_ms, self.bounds, self.sources, self.partitions
        )

    def _restore(self, partition: int) -> tuple[PartitionState, bool]:
        """The partition's engine from the table, and True when the table held nothing of
        it (a partition new to this deployment, to be seeded). Only what the newest commit
        record names is read: buckets of a checkpoint that never committed are ignored."""
        engine = self._new_engine(partition)
        prefix = f"{partition}|"
        saved = {
            k[len(prefix) :]: v
            for k, v in self.changelog.items()
            if isinstance(k, str) and k.startswith(prefix) and v is not None
        }
        commit = orjson.loads(saved[COMMIT]) if COMMIT in saved else None
        offsets = commit["offsets"] if commit is not None else {}
        slots = {int(b): int(slot) for b, slot in (commit or {}).get("slots", {}).items()}
        names = {b: f"b{b:03d}.{slot}" for b, slot in slots.items()}
        buckets = {b: decode_bucket(saved[n]) for b, n in names.items()}
        engine.restore(item for b in buckets.values() for item in b.items())
        st = PartitionState(partition, engine, offsets, buckets=buckets)
        st.slots = slots
        return st, not saved

    @staticmethod
    def already_applied(st: PartitionState, topic: str, offset: int) -> bool:
        done = st.offsets.get(topic)
        return done is not None and offset <= done

    def due(self, st: PartitionState, now: float) -> bool:
        if st.failed_at is not None and now - st.failed_at < self.checkpoint_interval_s:
            return False  # a failed write is tried again after the interval, not per event
        return (
            bool(st.pending)
            and not st.saving
            and (
                len(st.pending) >= self.checkpoint_every
                or now - st.last_checkpoint >= self.checkpoint_interval_s
            )
        )

    def checkpoint(self, st: PartitionState, now: float) -> list[Any]:
        """Write what changed straight into the table (a mapping whose writes cannot fail);
        return the events that may now be acknowledged."""
        cp = self._prepare(st, now)
        for key, value in [*cp.buckets.items(), (cp.commit_key, cp.commit)]:
            self.table[key] = value
        return self._confirmed(st, cp)

    async def save(self, st: PartitionState, now: float) -> list[Any]:
        """Write what changed through the changelog, buckets first and the commit record once
        they are confirmed; return the events that may now be acknowledged: none while
        another save of ``st`` is under way, none when a write failed (logged, counted, and
        the events kept pending for the next checkpoint)."""
        if st.saving:
            return []
        st.saving = True
        cp: Checkpoint | None = None
        try:
            if st.unconfirmed is not None:  # settle it first: then its slots are known
                commit, slots = st.unconfirmed
                await self.changelog.write(st.partition, {f"{st.partition}|{COMMIT}": commit})
                st.slots, st.unconfirmed = slots, None
            cp = self._prepare(st, now)
            await self.changelog.write(st.partition, cp.buckets)
            cp.buckets_done = True
            await self.changelog.write(st.partition, {cp.commit_key: cp.commit})
            return self._confirmed(st, cp)
        except ChangelogWriteFailed as exc:
            _failed(st, cp, exc)
            return []
        finally:
            st.saving = False

    def _prepare(self, st: PartitionState, now: float) -> Checkpoint:
        """What a checkpoint of ``st`` writes, taken at once (events applied while it is
        being written belong to the next one): the changed buckets, each in the slot the
        last commit does not name, and the commit record of the offsets they cover."""
        p = st.partition
        changed = _absorb_dirty(st) | st.unsaved | (set(st.buckets) if st.rewrite else set())
        st.rewrite, st.unsaved = False, set()
        slots = dict(st.slots)
        buckets = {}
        for b in changed:
            slots[b] = 1 - st.slots.get(b, 1)  # the slot the last commit does not name
            buckets[f"{p}|b{b:03d}.{slots[b]}"] = encode_bucket(st.buckets.get(b, {}))
        commit = {"offsets": st.offsets, "slots": slots}
        value = orjson.dumps(commit, option=orjson.OPT_NON_STR_KEYS).decode()
        pending, st.pending = st.pending, []
        st.last_checkpoint = now
        return Checkpoint(changed, slots, buckets, f"{p}|{COMMIT}", value, pending)

    @staticmethod
    def _confirmed(st: PartitionState, cp: Checkpoint) -> list[Any]:
        st.slots, st.failed_at = cp.slots, None
        return cp.pending

    def swap(self, ruleset: RuleSet) -> None:
        """Run ``ruleset`` from now on. Every partition's state is carried over for rules whose
        logic is unchanged (same namespace); state of removed or changed rules is dropped."""
        self.ruleset = ruleset
        self.plan = KeyPlan(ruleset)
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
            st.buckets[b] = {k: v for k, v in bucket.items() if k[0] in keep or Shard.keeps(k[0])}
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


# checkpoint one partition and acknowledge its events; returns how many were acknowledged
Save = Callable[[PartitionState, float], Awaitable[int]]


async def checkpoint_on_stop(
    engines: PartitionEngines, steps: InFlight, timeout_s: float, save: Save
) -> tuple[int, int] | None:
    """On stop, once no step is in progress (events have stopped coming): checkpoint every
    partition holding applied events and acknowledge them, so they are committed and never
    applied again. Returns ``(events, partitions)`` saved, or None when a step was still in
    progress after ``timeout_s``: then nothing is saved, and the next owner of the partitions
    applies again what was not checkpointed before (its warnings have the same ids). A
    partition whose checkpoint the changelog refuses is not counted: its next owner applies
    its events again. (A record that comes in during a save stays pending, unacknowledged:
    each checkpoint covers exactly the records taken when it began.)"""
    if not await steps.idle(timeout_s):
        return None
    now = time.monotonic()
    events = partitions = 0
    for st in engines:
        if st.pending:
            acked = await save(st, now)
            events += acked
            partitions += 1 if acked else 0
    return events, partitions


def _failed(st: PartitionState, cp: Checkpoint | None, exc: Exception) -> None:
    """A checkpoint that did not reach the changelog: its records go back in front of the
    pending ones, unacknowledged, and its buckets are written again next time. A commit
    record that was sent may have landed: it is written again before anything else."""
    st.failed_at = time.monotonic()
    m.CHECKPOINT_FAILURES.inc()
    if cp is None:  # the earlier commit record still not confirmed
        log.error("checkpoint of partition %d not saved: %s", st.partition, exc)
        return
    st.pending = cp.pending + st.pending
    st.unsaved |= cp.changed
    if cp.buckets_done:
        st.unconfirmed = (cp.commit, cp.slots)
    log.error(
        "checkpoint of partition %d not saved, its %d records stay unacknowledged: %s",
        st.partition,
        len(cp.pending),
        exc,
    )


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
