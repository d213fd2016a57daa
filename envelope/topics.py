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
EVENT_TOPICS = {"service": TOPIC_SERVICE, "regulatory": TOPIC_REGULATORY}
