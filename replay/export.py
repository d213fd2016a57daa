"""Export the inspectors' verdicts from ``clue.dispositions`` to a JSON lines file.

The file is what ``riskloop rules backtest --dispositions FILE`` reads
(:func:`rules.tools.verdicts.read_dispositions`): one
:class:`~envelope.events.Disposition` a line, as ``Disposition.to_json`` writes it. The
topic also carries every other step of a clue (:class:`~envelope.events.ClueTransition`);
those are skipped, and so are the outbox's re-sends of a verdict (same id). A verdict's
``sealed`` originals (the clue's personal identifiers under the pseudonym key, which the
worker's feedback agent opens) stay on the internal topic: the file is for rule authors, so
its lines carry the pseudonyms only.

The consumer joins no group and commits nothing: it is assigned every partition of the
topic, reads from the beginning up to the end offsets it saw at start, and stops, so records
arriving meanwhile wait for the next export. ``since_ms`` / ``until_ms`` keep the verdicts
made in ``[since_ms, until_ms)`` (a disposition's ``ts_ms`` is when the inspector gave it).
The file is written under a temporary name and renamed at the end: an export that fails
leaves no half file behind. Records that are not clue records are counted, and the first
few named by ``topic[partition] offset`` on stderr.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from tqdm import tqdm

from envelope.errors import UserError
from envelope.events import Disposition, parse_clue_record
from envelope.topics import TOPIC_DISPOSITIONS
from replay.topic_read import read_to_end

_SHOWN_UNREADABLE = 5


class ExportError(UserError, RuntimeError):
    """The export cannot run: broker unreachable, topic missing."""


@dataclass
class ExportReport:
    """What one export read and wrote."""

    out: str
    read: int = 0
    written: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # why records were left out

    def __str__(self) -> str:
        reasons = ", ".join(f"{n} {why}" for why, n in sorted(self.skipped.items()))
        return (
            f"wrote {self.written} dispositions to {self.out} "
            f"(read {self.read} records{': ' + reasons + ' left out' if reasons else ''})"
        )


@dataclass
class _Filter:
    """Which records become lines: dispositions, once each, made inside the window."""

    since_ms: int | None
    until_ms: int | None
    report: ExportReport
    kept: dict[str, Disposition] = field(default_factory=dict)

    def take(self, tp: TopicPartition, offset: int, value: bytes | None) -> None:
        self.report.read += 1
        try:
            record = parse_clue_record(value or b"")
        except (orjson.JSONDecodeError, TypeError, ValueError, KeyError) as exc:
            self._unreadable(tp, offset, exc)
            return
        if not isinstance(record, Disposition):
            self.report.skipped["transitions"] += 1
        elif record.id in self.kept:
            self.report.skipped["repeated sends"] += 1
        elif not self._inside(record.ts_ms):
            self.report.skipped["outside --from/--to"] += 1
        else:
            self.kept[record.id] = dataclasses.replace(record, sealed="")

    def _inside(self, ts_ms: int) -> bool:
        return (self.since_ms is None or ts_ms >= self.since_ms) and (
            self.until_ms is None or ts_ms < self.until_ms
        )

    def _unreadable(self, tp: TopicPartition, offset: int, exc: Exception) -> None:
        self.report.skipped["unreadable"] += 1
        if self.report.skipped["unreadable"] <= _SHOWN_UNREADABLE:
            where = f"{tp.topic}[{tp.partition}] offset {offset}"
            print(f"skipped {where}: not a clue record: {exc}", file=sys.stderr)


async def export_dispositions(
    out: str | Path,
    bootstrap: str,
    *,
    since_ms: int | None = None,
    until_ms: int | None = None,
    topic: str = TOPIC_DISPOSITIONS,
    progress: bool = True,
) -> ExportReport:
    """Write the dispositions on ``topic`` to ``out``; raises ExportError when the broker
    cannot be reached, the topic does not exist or ``out``'s folder is missing."""
    if not Path(out).parent.is_dir():
        raise ExportError(f"cannot write {out}: the folder {Path(out).parent} does not exist")
    report = ExportReport(str(out))
    keep = _Filter(since_ms, until_ms, report)
    consumer = await _start_consumer(bootstrap)
    try:
        parts = await _partitions(consumer, topic, bootstrap)
        start = await consumer.beginning_offsets(parts)
        end = await consumer.end_offsets(parts)
        total = sum(end[tp] - start[tp] for tp in parts)
        with tqdm(total=total, unit="rec", file=sys.stderr, disable=not progress) as bar:

            def take(tp: TopicPartition, record: Any) -> None:
                keep.take(tp, record.offset, record.value)
                bar.update(1)

            await read_to_end(consumer, parts, take, end)
    except KafkaError as exc:
        raise ExportError(f"reading {topic} from {bootstrap} failed: {exc}") from None
    finally:
        await consumer.stop()
    report.written = _write(Path(out), keep.kept.values())
    return report


async def _start_consumer(bootstrap: str) -> AIOKafkaConsumer:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        client_id="riskloop-export",
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    try:
        await consumer.start()
    except KafkaError as exc:
        await consumer.stop()
        raise ExportError(f"cannot reach the broker at {bootstrap}: {exc}") from None
    return consumer


async def _partitions(consumer: AIOKafkaConsumer, topic: str, bootstrap: str) -> list[Any]:
    await consumer.topics()  # loads the metadata of every topic
    numbers = consumer.partitions_for_topic(topic)
    if not numbers:
        raise ExportError(
            f"topic {topic} does not exist on {bootstrap}: nothing has been disposed there "
            "yet, or the broker is not riskloop's (riskloop topics create)"
        )
    return [TopicPartition(topic, p) for p in sorted(numbers)]


def _write(path: Path, dispositions: Iterable[Disposition]) -> int:
    """One disposition a line, oldest verdict first; renamed into place when complete."""
    rows = sorted(dispositions, key=lambda d: (d.ts_ms, d.id))
    tmp = path.with_name(path.name + ".part")
    with tmp.open("wb") as f:
        for d in rows:
            f.write(d.to_json() + b"\n")
    os.replace(tmp, path)
    return len(rows)
