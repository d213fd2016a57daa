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
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from tqdm import tqdm

from envelope.errors import UserError
from envelope.topics import EVENT_TOPICS
from replay.formats import ParsedRow, file_format, partition_key, read_rows

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
        if self.rejected:
            lines.append(f"rejects: {self.rejects_path}")
        if self.first_error:
            lines.append(f"first delivery error: {self.first_error}")
        if self.interrupted:
            lines.append("interrupted: stopped early after flushing what was read")
        return "\n".join(lines)


class Pacer:
    """Wall-clock delays that replay event time ``speed`` times faster.

    The schedule is anchored on the first event, so sleeping late never accumulates drift;
    events earlier than the latest one go out at once.

    >>> p = Pacer(speed=60.0)
    >>> p.delay_s(ts_ms=1_000_000, now_s=100.0)
    0.0
    >>> p.delay_s(ts_ms=1_000_000 + 3_600_000, now_s=100.5)   # an hour later, at 60x
    59.5
    >>> p.delay_s(ts_ms=900_000, now_s=101.0)
    0.0
    """

    def __init__(self, speed: float) -> None:
        self.speed = speed
        self._origin: tuple[int, float] | None = None

    def delay_s(self, ts_ms: int, now_s: float) -> float:
        if self._origin is None:
            self._origin = (ts_ms, now_s)
            return 0.0
        first_ts_ms, first_s = self._origin
        due_s = first_s + (ts_ms - first_ts_ms) / 1000.0 / self.speed
        return max(0.0, due_s - now_s)


def _pacer(speed: float | None, max_speed: bool) -> Pacer | None:
    if speed is not None and max_speed:
        raise PublishError("choose either a speed or max speed, not both")
    if speed is None:
        return None
    if not speed > 0:
        raise PublishError(f"speed must be a positive factor like 60, got {speed!r}")
    return Pacer(speed)


async def _start_producer(bootstrap: str, linger_ms: int) -> AIOKafkaProducer:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id="riskloop-replay",
        acks="all",
        enable_idempotence=False,
        linger_ms=linger_ms,
        max_batch_size=256 * 1024,
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


class _Run:
    """The mutable state of one publish: report, producer, delivery counts, rejects file.

    The rejects file is opened at the first reject, so a clean file leaves none behind.
    """

    def __init__(self, report: PublishReport, producer: AIOKafkaProducer, rejects_path: Path):
        self.report = report
        self.producer = producer
        self.rejects_path = rejects_path
        self.rejects: IO[bytes] | None = None
        self.delivered: Counter[str] = Counter()

    def reject(self, row: int, reason: str, original: object) -> None:
        self.report.rejected += 1
        if self.rejects is None:
            self.rejects = self.rejects_path.open("wb")
        record = {"row": row, "reason": reason, "original": original}
        self.rejects.write(orjson.dumps(record, default=str) + b"\n")

    async def send(self, row: int, topic: str, key: bytes, envelope: dict[str, Any]) -> None:
        """Hand one record to the producer; a record the producer refuses is a reject."""
        value = orjson.dumps(envelope, default=str)
        try:
            future = await self.producer.send(topic, value, key=key)
        except KafkaError as exc:
            self.reject(row, f"not sent: {exc!r}", envelope)
            return
        future.add_done_callback(lambda f: self._done(topic, f))

    def _done(self, topic: str, future: asyncio.Future[Any]) -> None:
        error = "cancelled" if future.cancelled() else future.exception()
        if error is None:
            self.delivered[topic] += 1
            return
        self.report.failed += 1
        if self.report.first_error is None:
            self.report.first_error = repr(error)


async def publish(
    path: str | Path,
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
) -> PublishReport:
    """Publish the events in ``path`` (JSON lines, CSV or Parquet) to ``bootstrap``.

    ``speed=X`` replays X times faster than event time; ``max_speed`` (or no speed) sends as
    fast as the broker takes them. Setting ``stop`` (or Ctrl-C) ends the run early, cleanly.
    ``encoding`` is the text files' encoding (CSV exports are often ``gb18030``).
    """
    path = Path(path)
    file_format(path)  # unknown extension: fail before touching the broker
    if not path.exists():
        raise PublishError(f"no such file: {path}")
    pacer = _pacer(speed, max_speed)
    stop = stop or asyncio.Event()
    rejects_file = (
        Path(rejects_path) if rejects_path else path.with_name(path.name + ".rejects.jsonl")
    )
    if not rejects_file.parent.is_dir():
        raise PublishError(f"no folder {rejects_file.parent} for the rejects file")
    report = PublishReport(path=str(path), rejects_path=str(rejects_file))
    run = _Run(report, await _start_producer(bootstrap, linger_ms), rejects_file)
    rejects_file.unlink(missing_ok=True)  # a previous run's rejects must not pass for ours
    started = time.monotonic()
    bar = tqdm(unit=" rows", file=sys.stderr, disable=not progress, mininterval=0.5)
    try:
        with _sigint_sets(stop):
            await _pump(run, read_rows(path, encoding=encoding), pacer, partition_field, stop, bar)
    finally:
        await _finish(run, bar)
    report.elapsed_s = time.monotonic() - started
    report.interrupted = stop.is_set()
    return report


async def _pump(
    run: _Run,
    rows: Iterator[ParsedRow],
    pacer: Pacer | None,
    partition_field: str,
    stop: asyncio.Event,
    bar: tqdm[Any],
) -> None:
    """Read rows and hand them to the producer until the file ends or ``stop`` is set."""
    report = run.report
    for row, envelope, reason, original, event in rows:
        if stop.is_set():
            break
        report.read += 1
        if report.read % _YIELD_EVERY == 0:
            bar.update(report.read - bar.n)
            await asyncio.sleep(0)
        if envelope is None or event is None:
            run.reject(row, reason or "invalid event", original)
            continue
        key = partition_key(event, partition_field)
        if key is None:
            run.reject(row, f"no value at the partition field {partition_field!r}", original)
            continue
        if pacer is not None and await _wait(pacer, event.ts_ms, stop):
            report.read -= 1  # stopped while waiting: this row was not published
            break
        await run.send(row, EVENT_TOPICS[event.stream], key, envelope)
    bar.update(report.read - bar.n)


async def _wait(pacer: Pacer, ts_ms: int, stop: asyncio.Event) -> bool:
    """Sleep until the event is due; True if ``stop`` was set meanwhile."""
    delay = pacer.delay_s(ts_ms, time.monotonic())
    if delay <= 0:
        return stop.is_set()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=delay)
    return stop.is_set()


async def _finish(run: _Run, bar: tqdm[Any]) -> None:
    """Deliver everything handed to the producer, then close it and the progress bar."""
    try:
        await run.producer.flush()
    finally:
        await run.producer.stop()
        await asyncio.sleep(0)  # let the last delivery callbacks run
        bar.close()
        if run.rejects is not None:
            run.rejects.close()
    run.report.per_topic = dict(run.delivered)
    run.report.sent = sum(run.delivered.values())


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
