"""riskloop's topics, created explicitly with their partition counts before any agent starts.

>>> sorted(riskloop_topics(2).values())
[1, 2, 2, 2, 2, 2, 2, 2]
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from envelope import topics
from riskloop.services import ServiceError

# --- topics -------------------------------------------------------------------------------


def riskloop_topics(partitions: int, app_id: str = "riskloop") -> dict[str, int]:
    """riskloop's topics: the five data topics and the verdicts topic with ``partitions``
    partitions each (the verdicts of partition p are for the engine of partition p, so the
    count must be the event topics'), and the rule-set topic with one (every worker reads all
    of it)."""
    names = [
        topics.TOPIC_SERVICE,
        topics.TOPIC_REGULATORY,
        topics.TOPIC_DEADLETTER,
        topics.TOPIC_WARNINGS,
        topics.TOPIC_DISPOSITIONS,
        topics.TOPIC_VERDICTS,
        topics.rekeyed_topic(app_id),
    ]
    return {name: partitions for name in names} | {topics.TOPIC_RULESETS: 1}


# Topics that keep only the newest record per key (Kafka's log compaction).
COMPACTED = {topics.TOPIC_RULESETS}


async def create_topics(
    bootstrap: str, topics: dict[str, int], replication: int = 1, timeout_s: float = 30.0
) -> None:
    """Create each topic with its partition count and wait until all partitions have leaders.

    ``bootstrap`` is ``host:port`` (a ``kafka://`` prefix is accepted too).
    An existing topic with the declared count is fine; one with another count raises
    ServiceError naming it (partition counts decide which worker owns which key).
    """
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import KafkaConnectionError, for_code

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap.split("://", 1)[-1])
    try:
        await admin.start()
    except KafkaConnectionError as exc:
        raise ServiceError(f"cannot reach the Kafka broker at {bootstrap}: {exc}") from None
    try:
        existing = await _partitions(admin)
        _check_counts(existing, topics)
        missing = [
            NewTopic(t, n, replication, topic_configs=_configs(t))
            for t, n in topics.items()
            if t not in existing
        ]
        if missing:
            response = await admin.create_topics(missing, timeout_ms=int(timeout_s * 1000))
            for topic, code, *message in response.topic_errors:
                if code not in (0, 36):  # 36: TOPIC_ALREADY_EXISTS (a race with another creator)
                    error = for_code(code).__name__
                    raise ServiceError(f"cannot create topic {topic!r}: {error} {message}")
        await _await_partitions(admin, topics, timeout_s)
    finally:
        await admin.close()


def _configs(topic: str) -> dict[str, str]:
    return {"cleanup.policy": "compact"} if topic in COMPACTED else {}


async def _partitions(admin: Any) -> dict[str, tuple[int, int]]:
    """topic -> (partitions, partitions with a leader), from metadata for *all* topics.

    Asking for named topics instead would auto-create them on some brokers.
    """
    counts: dict[str, tuple[int, int]] = {}
    for topic in await admin.describe_topics(None):
        parts = topic["partitions"]
        led = [p for p in parts if p["error_code"] == 0 and p["leader"] >= 0]
        counts[topic["topic"]] = (len(parts), len(led))
    return counts


def _check_counts(existing: dict[str, tuple[int, int]], wanted: dict[str, int]) -> None:
    for topic, count in wanted.items():
        have = existing.get(topic, (count, 0))[0]
        if have != count:
            raise ServiceError(
                f"topic {topic!r} already exists with {have} partitions, {count} declared: "
                "delete it or declare the same count"
            )


async def _await_partitions(admin: Any, topics: dict[str, int], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        seen = await _partitions(admin)
        _check_counts(seen, topics)
        pending = sorted(t for t, n in topics.items() if seen.get(t, (0, 0))[1] != n)
        if not pending:
            return
        if time.monotonic() >= deadline:
            raise ServiceError(f"topics without all partitions after {timeout_s}s: {pending}")
        await asyncio.sleep(0.1)
