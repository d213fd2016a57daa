"""Topic names, one place. Every topic is created explicitly with its partition count before
any agent starts (``riskloop topics create``)."""

TOPIC_SERVICE = "events.service"
TOPIC_REGULATORY = "events.regulatory"
TOPIC_DEADLETTER = "events.deadletter"
TOPIC_WARNINGS = "risk.warnings"
TOPIC_DISPOSITIONS = "clue.dispositions"
TOPIC_RULESETS = "rules.sets"
# Inspectors' verdicts for the detectors: written only by the worker's feedback agent, to
# every partition; read by the engine of each partition. Never carried on an event topic.
TOPIC_VERDICTS = "risk.verdicts"
# The repartition topic: events (and warnings for ``source: warnings`` rules) routed by each
# key space's key, in batches, with each source partition's progress; written and read only
# by the worker (streams.shuffle). Created with RISKLOOP_PARTITIONS partitions. One per
# deployment (RISKLOOP_APP_ID), as Kafka Streams names its repartition topics by application:
# two deployments on one cluster never read each other's routed events.
TOPIC_REKEYED = "riskloop.rekeyed"


def rekeyed_topic(app_id: str) -> str:
    """The repartition topic of the deployment ``app_id``.

    >>> rekeyed_topic("riskloop"), rekeyed_topic("city-b")
    ('riskloop.rekeyed', 'city-b.rekeyed')
    """
    return f"{app_id}.rekeyed"


EVENT_TOPICS = {"service": TOPIC_SERVICE, "regulatory": TOPIC_REGULATORY}
