"""One rule set for every worker: published to the compacted topic ``rules.sets``, followed by all.

With ``RISKLOOP_RULES_SOURCE=topic`` a worker does not read its own rules folder. A rule set is
published once (``riskloop ruleset publish DIR``, which validates it first) as one record
holding every YAML file of the folder; every worker reads the topic with no consumer group,
so each sees every record, and switches to a set only after validating it itself. All workers
therefore run the same version (the same bytes, the same digest as ``folder_digest`` of the
published folder), a worker started later takes the newest set before its first event, and a
record that does not validate is refused by every worker alike while the old set keeps running.

If the topic is empty when a worker starts, the worker publishes its own folder's set, so a
fresh deployment has one; the newest record wins whoever wrote it.

>>> record = RuleSetRecord.pack({"a.yaml": "id: a"}, by="analyst", now_ms=0)
>>> record.version == digest_files([("a.yaml", b"id: a")])
True
>>> RuleSetRecord.from_json(record.to_json()) == record
True
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from envelope.errors import UserError
from envelope.topics import TOPIC_RULESETS
from replay.topic_read import read_to_end
from rules import RuleSet, RuleSetError, load_rules
from rules.language.errors import RuleError
from streams.reload import RELOADS, digest_files, folder_files, switch_gauge

log = logging.getLogger("riskloop.rules")
KEY = b"current"  # one key: compaction keeps only the newest set


class RuleSetRecordError(UserError, ValueError):
    """A record on rules.sets that is not a rule set at all (not JSON, fields missing)."""


@dataclass(frozen=True)
class RuleSetRecord:
    version: str
    files: dict[str, str]  # path inside the folder -> YAML text
    by: str
    published_at_ms: int

    @classmethod
    def pack(cls, files: dict[str, str], *, by: str, now_ms: int) -> RuleSetRecord:
        version = digest_files((name, text.encode()) for name, text in files.items())
        return cls(version, dict(sorted(files.items())), by, now_ms)

    @classmethod
    def of_folder(cls, folder: str | Path, *, by: str, now_ms: int) -> RuleSetRecord:
        files = {name: data.decode("utf-8") for name, data in folder_files(Path(folder))}
        return cls.pack(files, by=by, now_ms=now_ms)

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "version": self.version,
                "by": self.by,
                "published_at_ms": self.published_at_ms,
                "files": self.files,
            }
        )

    @classmethod
    def from_json(cls, raw: bytes) -> RuleSetRecord:
        try:
            doc = orjson.loads(raw)
            files = {str(k): str(v) for k, v in doc["files"].items()}
            record = cls(str(doc["version"]), files, str(doc["by"]), int(doc["published_at_ms"]))
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError) as exc:
            raise RuleSetRecordError(f"not a rule set record: {exc}") from None
        actual = digest_files((name, text.encode()) for name, text in files.items())
        if actual != record.version:
            raise RuleSetRecordError(f"version {record.version} does not match its files: {actual}")
        return record

    def load(self) -> RuleSet:
        """Validate and load the set; errors name ``<version>/<file>:line:col``."""
        with tempfile.TemporaryDirectory(prefix="riskloop-ruleset-") as tmp:
            root = Path(tmp)
            self.write_to(root)
            try:
                return load_rules(root)
            except RuleSetError as exc:
                raise RuleSetError([self._renamed(e, root) for e in exc.errors]) from None

    def write_to(self, root: Path) -> None:
        """The set's files under ``root``; a name that would leave ``root`` is refused."""
        for name, text in self.files.items():
            path = root / name
            if root.resolve() not in path.resolve().parents:
                raise RuleSetError([RuleError(name, 1, 1, "file name leaves the rule set")])
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")

    def _renamed(self, error: RuleError, root: Path) -> RuleError:
        shown = error.path.replace(str(root), self.version, 1)
        return RuleError(shown, error.line, error.col, error.message)


class TopicRules:
    """The running set of a worker that follows rules.sets; ``accept()`` decides on a record."""

    def __init__(self, running: RuleSet, version: str) -> None:
        self.ruleset, self.digest = running, version
        self.rejected: str | None = None
        switch_gauge(None, version)

    def accept(self, record: RuleSetRecord) -> RuleSet | None:
        """The record's set if it is new and valid; None (old set keeps running) otherwise."""
        if record.version in (self.digest, self.rejected):
            return None
        try:
            ruleset = record.load()
        except Exception as exc:  # RuleSetError, or a fault of the loader: never a crash
            self.rejected = record.version
            RELOADS.labels("rejected").inc()
            log.error(
                "rule set %s published by %s rejected, %s keeps running:\n%s",
                record.version,
                record.by,
                self.digest,
                exc if isinstance(exc, RuleSetError) else f"{type(exc).__name__}: {exc}",
                exc_info=not isinstance(exc, RuleSetError),
            )
            return None
        switch_gauge(self.digest, record.version)
        RELOADS.labels("accepted").inc()
        log.warning(
            "rule set %s published by %s loaded (%d rules), replacing %s",
            record.version,
            record.by,
            len(ruleset.rules),
            self.digest,
        )
        self.digest, self.rejected, self.ruleset = record.version, None, ruleset
        return ruleset


# --- the topic ------------------------------------------------------------------------------


async def publish(bootstrap: str, record: RuleSetRecord, topic: str = TOPIC_RULESETS) -> int:
    """Write a set to rules.sets; returns its offset once the broker has it."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", max_request_size=8 * 1024 * 1024
    )
    await producer.start()
    try:
        meta = await producer.send_and_wait(topic, record.to_json(), key=KEY)
        return int(meta.offset)
    finally:
        await producer.stop()


def _consumer(bootstrap: str) -> Any:
    from aiokafka import AIOKafkaConsumer

    return AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_bytes=16 * 1024 * 1024,
        max_partition_fetch_bytes=16 * 1024 * 1024,
    )


def _partition(topic: str) -> Any:
    from aiokafka import TopicPartition

    return TopicPartition(topic, 0)


def parse_records(records: Iterable[bytes]) -> list[RuleSetRecord]:
    """The records that are rule sets at all, oldest first (their rules are validated later)."""
    parsed = []
    for raw in records:
        try:
            parsed.append(RuleSetRecord.from_json(raw))
        except RuleSetRecordError as exc:
            log.error("skipping a record on %s: %s", TOPIC_RULESETS, exc)
    return parsed


async def read_all(bootstrap: str, topic: str = TOPIC_RULESETS) -> tuple[list[RuleSetRecord], int]:
    """Every rule set on the topic, oldest first, and the offset after the last one read."""
    consumer = _consumer(bootstrap)
    await consumer.start()
    raw: list[bytes] = []

    def take(_tp: Any, record: Any) -> None:
        if record.value is not None:
            raw.append(record.value)

    try:
        tp = _partition(topic)
        end = await read_to_end(consumer, [tp], take)
        return parse_records(raw), end[tp]
    finally:
        await consumer.stop()


async def follow(
    bootstrap: str, start: int, topic: str = TOPIC_RULESETS
) -> AsyncIterator[tuple[int, RuleSetRecord]]:
    """Every rule set published from offset ``start`` on, as it arrives, with the offset to
    resume from after it; forever."""
    consumer = _consumer(bootstrap)
    await consumer.start()
    try:
        tp = _partition(topic)
        consumer.assign([tp])
        consumer.seek(tp, start)
        async for msg in consumer:
            for record in parse_records([msg.value] if msg.value is not None else []):
                yield msg.offset + 1, record
    finally:
        await consumer.stop()


async def follow_forever(
    bootstrap: str, start: int, on_record: Any, topic: str = TOPIC_RULESETS
) -> None:
    """``follow`` that survives a broker outage: resumes where it was after a pause."""
    resume = start
    while True:
        try:
            async for after, record in follow(bootstrap, resume, topic):
                on_record(record)
                resume = after
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("cannot read %s (%s); retrying in 5 s", topic, exc)
            await asyncio.sleep(5.0)


def initial_set(
    bootstrap: str, folder: str | Path, by: str, now_ms: int, topic: str = TOPIC_RULESETS
) -> tuple[RuleSetRecord, RuleSet, int]:
    """At worker start, before its event loop runs: the newest published set that validates
    (what every running worker runs, as each refuses an invalid one), or, on an empty topic,
    the worker's own folder published as the first set. Returns the record, its loaded set and
    the offset to follow from."""
    records, end = _run(read_all(bootstrap, topic))
    for record in reversed(records):
        try:
            return record, record.load(), end
        except RuleSetError as exc:
            log.error(
                "published rule set %s is invalid, trying the one before:\n%s", record.version, exc
            )
    ruleset = load_rules(folder)  # a bad folder stops start-up with file:line
    own = RuleSetRecord.of_folder(folder, by=by, now_ms=now_ms)
    if records:  # sets were published, none valid: run the folder, publish nothing over them
        return own, ruleset, end
    offset = _run(publish(bootstrap, own, topic))
    log.warning("no rule set published yet: published this worker's folder as %s", own.version)
    return own, ruleset, offset + 1


def _run(coro: Any) -> Any:
    """Run a coroutine to completion on a private loop in a thread (Faust owns the main one)."""
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()
