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
# by the worker (streams.shuffle). Created with RISKLOOP_PARTITIONS partitions.
TOPIC_REKEYED = "riskloop.rekeyed"
EVENT_TOPICS = {"service": TOPIC_SERVICE, "regulatory": TOPIC_REGULATORY}
