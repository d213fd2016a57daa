"""Seed files: past events a fresh engine learns from before its first live event.

A new deployment knows no baseline: every account is "new" to a ``new_value`` rule and every
district has no reference for a ``spike`` rule, so the first hours flood. A seed file (an
event file like any other: JSON lines, CSV, Parquet) is replayed silently into each fresh
engine (:meth:`rules.engine.engine.Engine.seed`). Each engine takes only the events of its own
partition: the one the publisher's producer sends an event to (the key is the text at
``partition_field``, :func:`replay.formats.partition_key`; the partition is Kafka's default
partitioner over it, :func:`envelope.partitioning.partition_for`). An engine fed other
partitions' events would open obligations and deadlines for keys it never owns, and fire
them beside the engine that does.

The whole file is checked when a :class:`SeedFile` is made, so a bad row stops start-up
with the file and row rather than surfacing at a partition's first event.

Pure apart from reading the file: no broker.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from envelope.events import Event
from envelope.partitioning import partition_for
from replay.formats import FormatError, partition_key, read_rows


class SeedFile:
    """``seed(partition)`` -> the file's events of that partition, in file order.

    Raises FormatError naming the file (and the row) when the file is missing, of an
    unsupported kind, or holds a row that is not a valid event with a partition key.
    """

    def __init__(self, path: str | Path, partitions: int, partition_field: str = "region"):
        if partitions < 1:
            raise ValueError(f"partitions must be >= 1, got {partitions}")
        self.path = Path(path)
        self.partitions = partitions
        self.partition_field = partition_field
        if not self.path.is_file():
            raise FormatError(f"seed file {self.path} not found")
        self.counts: Counter[int] = Counter(p for p, _ in self._events())

    def __call__(self, partition: int) -> Iterator[Event]:
        return (ev for p, ev in self._events() if p == partition)

    def _events(self) -> Iterator[tuple[int, Event]]:
        for row, _envelope, reason, _original, event in read_rows(self.path):
            key = None if event is None else partition_key(event, self.partition_field)
            if event is None or key is None:
                why = reason or f"no value at the partition field {self.partition_field!r}"
                raise FormatError(f"seed file {self.path} row {row}: {why}")
            yield partition_for(key, self.partitions), event


def seed_file(path: str, partitions: int, partition_field: str) -> SeedFile | None:
    """The seed of a deployment (``RISKLOOP_SEED_FILE``); None when no file is set."""
    return SeedFile(path, partitions, partition_field) if path else None
