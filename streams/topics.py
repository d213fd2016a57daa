"""The worker's topics, declared with explicit partition counts."""

from __future__ import annotations

from dataclasses import dataclass

import faust

from envelope import topics as names
from envelope.settings import Settings


@dataclass(frozen=True)
class Topics:
    events: faust.TopicT  # both event topics, co-partitioned, raw bytes
    deadletter: faust.TopicT
    warnings: faust.TopicT
    dispositions: faust.TopicT
    verdicts: faust.TopicT  # risk.verdicts: a verdict on every partition, for its engine
    # what the evaluate agent reads: the event topics and risk.verdicts, one stream, so the
    # engine of partition p applies events and verdicts of partition p one at a time (same
    # partition count and consumer group: Faust assigns partition p of all three together)
    evaluated: faust.TopicT


def declare(app: faust.App, settings: Settings) -> Topics:
    def raw(*topic_names: str) -> faust.TopicT:
        return app.topic(
            *topic_names,
            key_serializer="raw",
            value_serializer="raw",
            partitions=settings.partitions,
        )

    return Topics(
        events=raw(names.TOPIC_SERVICE, names.TOPIC_REGULATORY),
        deadletter=raw(names.TOPIC_DEADLETTER),
        warnings=raw(names.TOPIC_WARNINGS),
        dispositions=raw(names.TOPIC_DISPOSITIONS),
        verdicts=raw(names.TOPIC_VERDICTS),
        evaluated=raw(names.TOPIC_SERVICE, names.TOPIC_REGULATORY, names.TOPIC_VERDICTS),
    )
