"""Publish an event file to the event topics, paced in event time or as fast as possible.

Each valid row goes to its stream's topic (``envelope.topics.EVENT_TOPICS``) keyed by the
value at ``partition_field`` (the region by default), so the broker's default partitioner
puts one key's events on one partition, in file order. The value is the envelope as the
file gives it. Rows that are not valid events go to a rejects file as JSON lines
``{"row", "reason", "original"}``; nothing is dropped silently.

Delivery: ``acks=all``, batched with ``linger_ms``. aiokafka keeps at most one request in
flight per partition (it mutes a partition until its batch is answered), so a retry cannot
reorder one key's events; the idempotent producer is off because Tansu rejects it.

Ctrl-C (SIGINT) stops reading, flushes what was already handed to the producer and returns
the report with ``interrupted=True``.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from tqdm import tqdm

from envelope.errors import UserError
from envelope.topics import EVENT_TOPICS
from replay.batches import MAX_BATCH_BYTES
from replay.fast_rows import FastRow, fast_row, fast_rows
from replay.formats import file_format
from replay.mapping import load_mapping
from replay.sender import Options, Sender
from replay.sources import (
    Checkpoint,
    Pacer,
    RateLimit,
    RowFilter,
    Settled,
    SourceError,
    after,
    estimated_rows,
    expand,
    rows_of,
)

# Rows between yields to the event loop, so the producer's sender runs while we read.
_YIELD_EVERY = 500


class PublishError(UserError, RuntimeError):
    """The publish cannot start: broker unreachable, topics missing, bad pacing options."""


@dataclass
class PublishReport:
    """What one publish did. ``sent`` counts records the broker acknowledged."""

    path: str
    read: int = 0
    sent: int = 0
    rejected: int = 0
    failed: int = 0
    per_topic: dict[str, int] = field(default_factory=dict)
    elapsed_s: float = 0.0
    rejects_path: str | None = None
    interrupted: bool = False
    first_error: str | None = None
    files: int = 1
    skipped: int = 0  # valid events outside --from/--to or --types
    records: int = 0  # messages sent: fewer than events when batched
    resumed_rows: int = 0  # rows a checkpoint said were settled already
    resumed_files: int = 0  # files a checkpoint said were finished

    @property
    def events_per_s(self) -> float:
        return self.sent / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def __str__(self) -> str:
        topics = ", ".join(f"{t} {n}" for t, n in sorted(self.per_topic.items())) or "none"
        lines = [
            f"{self.path}: read {self.read} rows, sent {self.sent} ({topics}), "
            f"rejected {self.rejected}, failed {self.failed}",
            f"{self.elapsed_s:.1f} s, {self.events_per_s:,.0f} events/s",
        ]
        if self.skipped:
            lines.append(f"skipped {self.skipped} events outside the time window or types")
        if self.records and self.records != self.sent:
            lines.append(f"{self.records} messages, {self.sent / self.records:,.1f} events each")
        if self.resumed_rows or self.resumed_files:
            lines.append(
                f"resumed from the checkpoint: {self.resumed_files} files done before, "
                f"{self.resumed_rows} rows already sent skipped"
            )
        if self.rejected:
            lines.append(f"rejects: {self.rejects_path}")
        if self.first_error:
            lines.append(f"first delivery error: {self.first_error}")
        if self.interrupted:
            lines.append("interrupted: stopped early after flushing what was read")
        return "\n".join(lines)


def _pacer(speed: float | None, max_speed: bool) -> Pacer | None:
    if speed is not None and max_speed:
        raise PublishError("choose either a speed or max speed, not both")
    if speed is None:
        return None
    if not speed > 0:
        raise PublishError(f"speed must be a positive factor like 60, got {speed!r}")
    return Pacer(speed)


async def _start_producer(bootstrap: str, linger_ms: int, batch_bytes: int) -> AIOKafkaProducer:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id="riskloop-replay",
        acks="all",
        enable_idempotence=False,
        linger_ms=linger_ms,
        max_batch_size=max(256 * 1024, batch_bytes + 1024),
        max_request_size=max(1024 * 1024, 2 * batch_bytes),
        request_timeout_ms=30_000,
    )
    try:
        await producer.start()
        metadata = await producer.client.fetch_all_metadata()
    except KafkaError as exc:
        await producer.stop()
        raise PublishError(f"cannot reach the broker at {bootstrap}: {exc}") from None
    missing = sorted(set(EVENT_TOPICS.values()) - set(metadata.topics()))
    if missing:
        await producer.stop()
        raise PublishError(
            f"topics {', '.join(missing)} do not exist on {bootstrap}: create them with their "
            "partition count first (riskloop topics create); an auto-created topic gets the "
            "wrong partition count"
        )
    return producer


async def publish(
    path: str | Path | Sequence[str | Path],
    bootstrap: str,
    speed: float | None = None,
    max_speed: bool = False,
    rejects_path: str | Path | None = None,
    progress: bool = True,
    partition_field: str = "region",
    *,
    linger_ms: int = 20,
    encoding: str = "utf-8",
    stop: asyncio.Event | None = None,
    mapping: str | Path | None = None,
    row_filter: RowFilter | None = None,
    rate: float | None = None,
    batch: int | None = None,
    batch_bytes: int = MAX_BATCH_BYTES,
    checkpoint: str | Path | None = None,
) -> PublishReport:
    """Publish the events in ``path`` (files, folders, globs; JSON lines, CSV or Parquet,
    gzip too) to ``bootstrap``, file after file.

    ``speed=X`` replays X times faster than event time; ``max_speed`` (or no speed) sends as
    fast as the broker takes them; ``rate`` caps it at that many events a second. Setting
    ``stop`` (or Ctrl-C) ends the run early, cleanly. ``encoding`` is the text files'
    encoding (CSV exports are often ``gb18030``). ``mapping``: a column mapping file for
    files not in the envelope (:mod:`replay.mapping`); ``row_filter``: the event-time window
    and types kept; ``batch``: up to that many events a record (:mod:`replay.batches`);
    ``checkpoint``: a file recording how far each file is settled, to resume from.
    """
    files, rejects_file = _files(path, rejects_path, checkpoint)
    options = Options(
        rejects_path=rejects_file,
        partition_field=partition_field,
        pacer=_pacer(speed, max_speed),
        rate=None if rate is None else RateLimit(rate),
        row_filter=row_filter or RowFilter(),
        mapping=None if mapping is None else load_mapping(mapping),
        encoding=encoding,
        batch=batch,
        batch_bytes=batch_bytes,
        checkpoint=None if checkpoint is None else Checkpoint(checkpoint),
    )
    if batch is not None and batch < 1:
        raise PublishError(f"batch must be 1 or more events a record, got {batch}")
    producer = await _start_producer(bootstrap, linger_ms, batch_bytes if batch else 0)
    options.partitions = {t: len(await producer.partitions_for(t)) for t in EVENT_TOPICS.values()}
    report = PublishReport(path=_shown(files), rejects_path=str(rejects_file), files=len(files))
    return await _publish_files(
        Sender(report, producer, options), files, stop or asyncio.Event(), progress
    )


def _files(
    path: str | Path | Sequence[str | Path],
    rejects_path: str | Path | None,
    checkpoint: str | Path | None,
) -> tuple[list[Path], Path]:
    """The files to read (not our own rejects and checkpoint files) and the rejects file."""
    try:
        files = expand(path)
    except SourceError as exc:
        raise PublishError(str(exc)) from None
    own = {Path(p).resolve() for p in (checkpoint, rejects_path) if p is not None}
    files = [f for f in files if f.resolve() not in own] or files
    if rejects_path:
        rejects_file = Path(rejects_path)
    elif len(files) > 1:
        rejects_file = files[0].parent / "replay.rejects.jsonl"
    else:
        rejects_file = files[0].with_name(files[0].name + ".rejects.jsonl")
    if not rejects_file.parent.is_dir():
        raise PublishError(f"no folder {rejects_file.parent} for the rejects file")
    return files, rejects_file


def _shown(files: list[Path]) -> str:
    return str(files[0]) if len(files) == 1 else f"{len(files)} files ({files[0].parent})"


async def _publish_files(
    run: Sender, files: list[Path], stop: asyncio.Event, progress: bool
) -> PublishReport:
    report, options = run.report, run.options
    options.rejects_path.unlink(missing_ok=True)  # a previous run's rejects must not pass for ours
    started = time.monotonic()
    total = _total(files) if progress else None
    bar = tqdm(total=total, unit=" rows", file=sys.stderr, disable=not progress, mininterval=0.5)
    try:
        with _sigint_sets(stop):
            for file in files:
                if stop.is_set():
                    break
                await _publish_file(run, file, stop, bar)
    finally:
        await _finish(run, bar)
    report.elapsed_s = time.monotonic() - started
    report.interrupted = stop.is_set()
    return report


def _total(files: list[Path]) -> int | None:
    counts = [estimated_rows(f) for f in files]
    return None if None in counts else sum(c for c in counts if c is not None)


def _rows(file: Path, options: Options) -> Iterator[FastRow]:
    """A JSON lines file checked a chunk at a time; any other row by row (same answers)."""
    if options.mapping is None and options.encoding == "utf-8" and file_format(file) == "jsonl":
        return fast_rows(file, options.partition_field)
    rows = rows_of(file, options.mapping, options.encoding)
    return (fast_row(r, options.partition_field) for r in rows)


async def _publish_file(run: Sender, file: Path, stop: asyncio.Event, bar: tqdm[Any]) -> None:
    options = run.options
    start_row, done = (0, False) if options.checkpoint is None else options.checkpoint.start(file)
    run.file = file
    run.settled[file] = Settled(start_row)
    if done:
        run.report.resumed_files += 1
        run.finished.add(file)
        if bar.total:
            _not_this_run(bar, estimated_rows(file) or 0)
        return
    rows = _rows(file, options)
    if start_row:
        run.report.resumed_rows += start_row
        _not_this_run(bar, start_row)
        rows = after(rows, start_row)
    await _pump(run, rows, stop, bar)
    await run.flush_batches()
    if not stop.is_set():
        run.finished.add(file)


async def _pump(run: Sender, rows: Iterator[FastRow], stop: asyncio.Event, bar: tqdm[Any]) -> None:
    """Read rows and hand them to the producer until the file ends or ``stop`` is set."""
    report, options = run.report, run.options
    assert run.file is not None
    settled, keeps = run.settled[run.file], options.row_filter.keeps
    paced = options.pacer is not None or options.rate is not None
    for row, value, ts_ms, etype, stream, key, reason, original in rows:
        if stop.is_set():
            break
        report.read += 1
        if report.read % _YIELD_EVERY == 0:
            _tick(run, bar)
            await run.flush_batches(due_only=True)  # rows skipped or rejected add nothing
            await asyncio.sleep(0)
        if value is None:
            run.reject(row, reason or "invalid event", original)
            settled.now(row)
            continue
        if not keeps(ts_ms, etype):
            report.skipped += 1
            settled.now(row)
            continue
        if key is None:
            where = f"no value at the partition field {options.partition_field!r}"
            run.reject(row, where, original if original is not None else orjson.loads(value))
            settled.now(row)
            continue
        if paced and await _wait(run, ts_ms, stop):
            report.read -= 1  # stopped while waiting: this row was not published
            break
        await run.event(row, EVENT_TOPICS[stream], key, value)
    _tick(run, bar)


def _not_this_run(bar: tqdm[Any], rows: int) -> None:
    """Rows a checkpoint settled before leave the bar's total, so its rate and ETA are this
    run's."""
    if bar.total:
        bar.total = max(bar.n, bar.total - rows)
        bar.refresh()


def _tick(run: Sender, bar: tqdm[Any]) -> None:
    bar.update(run.report.read - bar.n)
    if run.report.rejected:
        bar.set_postfix(rejected=run.report.rejected, refresh=False)
    run.save()


async def _wait(run: Sender, ts_ms: int, stop: asyncio.Event) -> bool:
    """Sleep until the event is due (speed, rate); True if ``stop`` was set meanwhile.
    Open batches go out first: nothing waits in a batch while the replay sleeps."""
    now = time.monotonic()
    delay = max(
        0.0 if run.options.pacer is None else run.options.pacer.delay_s(ts_ms, now),
        0.0 if run.options.rate is None else run.options.rate.delay_s(now),
    )
    if delay <= 0:
        return stop.is_set()
    if delay > 0.005:
        await run.flush_batches()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=delay)
    return stop.is_set()


async def _finish(run: Sender, bar: tqdm[Any]) -> None:
    """Deliver everything handed to the producer, then close it, the bar and the checkpoint."""
    try:
        await run.flush_batches()
        await run.producer.flush()
    finally:
        await run.producer.stop()
        await asyncio.sleep(0)  # let the last delivery callbacks run
        bar.close()
        if run.rejects is not None:
            run.rejects.close()
        run.save(force=True)
    run.report.per_topic = dict(run.delivered)
    run.report.sent = sum(run.delivered.values())
    run.report.records = run.records


@contextlib.contextmanager
def _sigint_sets(stop: asyncio.Event) -> Iterator[None]:
    """While publishing, Ctrl-C sets ``stop`` instead of killing the loop mid-batch."""
    loop = asyncio.get_running_loop()
    previous = signal.getsignal(signal.SIGINT)
    installed = False
    if threading.current_thread() is threading.main_thread():
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGINT, stop.set)
            installed = True
    try:
        yield
    finally:
        if installed:
            loop.remove_signal_handler(signal.SIGINT)
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
