"""Seed files: past events a fresh engine learns from before its first live event.

A new deployment knows no baseline: every account is "new" to a ``new_value`` rule and every
district has no reference for a ``spike`` rule, so the first hours flood. A seed file (an
event file like any other: JSON lines, CSV, Parquet) is replayed silently into each fresh
shard (:meth:`rules.engine.shard.Shard.seed`). Each shard takes only the events of its own
keys: an event goes to every key space that can use it, to the partition its key hashes to
there (:class:`rules.engine.keyspace.KeyPlan`), as the live router sends it. A shard fed
other keys would open obligations and deadlines for keys it never owns, and fire them beside
the shard that does.

The whole file is checked when a :class:`SeedFile` is made, so a bad row stops start-up
with the file and row rather than surfacing at a partition's first event.

Pure apart from reading the file: no broker.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from envelope.events import Event
from replay.formats import FormatError, read_rows
from rules.engine.keyspace import KeyPlan


class SeedFile:
    """``seed(partition, plan)`` -> ``(key space, event)`` of that partition, in file order.

    Raises FormatError naming the file (and the row) when the file is missing, of an
    unsupported kind, or holds a row that is not a valid event.
    """

    def __init__(self, path: str | Path, partitions: int):
        if partitions < 1:
            raise ValueError(f"partitions must be >= 1, got {partitions}")
        self.path = Path(path)
        self.partitions = partitions
        if not self.path.is_file():
            raise FormatError(f"seed file {self.path} not found")
        self.events = sum(1 for _ in self._events())

    def __call__(self, partition: int, plan: KeyPlan) -> Iterator[tuple[str, Event]]:
        for event in self._events():
            for ks, key in plan.route(event):
                if plan.partition(key, self.partitions) == partition:
                    yield ks.name, event

    def _events(self) -> Iterator[Event]:
        for row, _envelope, reason, _original, event in read_rows(self.path):
            if event is None:
                raise FormatError(f"seed file {self.path} row {row}: {reason}")
            yield event


def seed_file(path: str, partitions: int) -> SeedFile | None:
    """The seed of a deployment (``RISKLOOP_SEED_FILE``); None when no file is set."""
    return SeedFile(path, partitions) if path else None
