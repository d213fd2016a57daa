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
    verdicts: faust.TopicT  # risk.verdicts: each verdict on the partition of its key
    rekeyed: faust.TopicT  # riskloop.rekeyed: events routed by key space (streams.shuffle)
    # what the ingest agent reads: the event topics with any keys, and the warnings again
    # for the ``source: warnings`` key spaces
    ingested: faust.TopicT
    # what the evaluate agent reads: the repartition topic and risk.verdicts, one stream, so
    # the shard of partition p applies routed events and verdicts of partition p one at a
    # time (same partition count and consumer group: Faust assigns partition p of both)
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
        rekeyed=raw(names.rekeyed_topic(settings.app_id)),
        ingested=raw(names.TOPIC_SERVICE, names.TOPIC_REGULATORY, names.TOPIC_WARNINGS),
        evaluated=raw(names.rekeyed_topic(settings.app_id), names.TOPIC_VERDICTS),
    )
