"""The worker's own Prometheus metrics (names are a contract with dashboards/).

They live in the default registry, so faust's Prometheus sensor serves them on the same
``/metrics`` page as its own.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_IN = Counter("riskloop_events_in", "Valid events processed", ["topic"])
DEADLETTERS = Counter("riskloop_deadletters", "Events dead-lettered", ["topic", "reason"])
WARNINGS = Counter(
    "riskloop_warnings", "Risk warnings raised", ["rule", "severity", "region", "department"]
)
SHADOW_WARNINGS = Counter(
    "riskloop_shadow_warnings",
    "Warnings of experimental rules (shadow mode: never enqueued)",
    ["rule"],
)
RULE_STATS = Gauge(
    "riskloop_rule_stats",
    "Per-rule engine counters since the rule set was loaded (emitted, suppressed, ...)",
    ["rule", "stat"],
)
PROCESSING = Histogram(
    "riskloop_event_processing_seconds",
    "Rule engine time per event",
    buckets=(0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25),
)
WATERMARK_LAG = Gauge(
    "riskloop_watermark_lag_seconds", "Newest event time seen minus the watermark", ["partition"]
)
WATERMARK = Gauge(
    "riskloop_watermark_seconds", "The partition's watermark (event time, epoch s)", ["partition"]
)
LATE_EVENTS = Counter(
    "riskloop_late_events",
    "Events before their partition's watermark (later than the lateness allows): dead-lettered",
    ["topic"],
)
DUPLICATE_EVENTS = Counter(
    "riskloop_duplicate_events",
    "Events whose id was applied already (within the dedup horizon): skipped",
    ["topic"],
)
SHUFFLE_ITEMS = Counter(
    "riskloop_shuffle_items", "Routed events and warnings on the repartition topic", ["stage"]
)
DISPOSITIONS = Counter("riskloop_dispositions", "Clue dispositions fed back", ["rule", "outcome"])
PRECISION = Gauge("riskloop_rule_precision", "Confirmed / (confirmed + dismissed)", ["rule"])
DETECTOR_SCORE = Histogram(
    "riskloop_detector_score",
    "Anomaly scores per rule",
    ["rule"],
    buckets=(0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0, 2.0, 5.0),
)
DETECTOR_THRESHOLD = Gauge("riskloop_detector_threshold", "Adaptive threshold per rule", ["rule"])


_EVENTS_IN_BY_TOPIC: dict[str, Counter] = {}


def events_in(topic: str) -> Counter:
    """The events-in counter child of a topic, looked up once (this runs per event)."""
    child = _EVENTS_IN_BY_TOPIC.get(topic)
    if child is None:
        child = _EVENTS_IN_BY_TOPIC[topic] = EVENTS_IN.labels(topic)
    return child


def reason_kind(reason: str) -> str:
    """A short label for a dead-letter reason (bounded cardinality).

    >>> reason_kind("missing field 'ts'"), reason_kind("bad JSON: unexpected character")
    ('missing_field', 'bad_json')
    >>> reason_kind("too late by 5m: ..."), reason_kind("too far in the future: ...")
    ('too_late', 'future')
    """
    for prefix, kind in (
        ("bad JSON", "bad_json"),
        ("missing field", "missing_field"),
        ("bad timestamp", "bad_timestamp"),
        ("unknown stream", "unknown_stream"),
        ("wrong topic", "wrong_topic"),
        ("bad verdict", "bad_verdict"),
        ("rule ", "rule_error"),
        ("too far in the future", "future"),
        ("too old", "too_old"),
        ("too late", "too_late"),
    ):
        if reason.startswith(prefix):
            return kind
    return "invalid"


CHECKPOINT_FAILURES = Counter(
    "riskloop_checkpoint_failures",
    "Checkpoints the state changelog refused or did not confirm (their records stay unacked)",
)
