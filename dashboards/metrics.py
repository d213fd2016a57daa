"""The metric-name contract between the worker, the API and the dashboards.

Dashboards may only query the series named here (histograms by their ``_bucket`` series).
The worker's names come from faust's Prometheus sensor (app id ``riskloop`` → prefix
``riskloop_``) and from riskloop's own collectors; the API's from the clue service.
"""

from __future__ import annotations

# Scraped as job "riskloop-worker" (faust web server, :6066/metrics).
FAUST_SENSOR_METRICS = frozenset(
    {
        "riskloop_messages_received_per_topic_total",  # {topic}
        "riskloop_topic_partition_end_offset",  # {topic, partition}
        "riskloop_topic_partition_offset_commited",  # {topic, partition} (sic, faust's spelling)
        "riskloop_events_runtime_ms_bucket",  # histogram, milliseconds
    }
)
WORKER_METRICS = FAUST_SENSOR_METRICS | frozenset(
    {
        "riskloop_events_in_total",  # {topic}: valid events processed
        "riskloop_deadletters_total",  # {topic, reason}
        "riskloop_warnings_total",  # {rule, severity, region, department}
        "riskloop_event_processing_seconds_bucket",  # histogram: engine time per event
        "riskloop_watermark_lag_seconds",  # gauge {partition}: how far event time trails
        "riskloop_dispositions_total",  # {rule, outcome=confirmed|dismissed}
        "riskloop_rule_precision",  # gauge {rule}
        "riskloop_detector_score_bucket",  # histogram {rule}
        "riskloop_detector_threshold",  # gauge {rule}
        "riskloop_clue_upserts_total",  # {result=new|merged|duplicate}
        # gauge {rule, stat=emitted|suppressed|excepted|shadow|resolved|learned|errors}
        "riskloop_rule_stats",
        "riskloop_shadow_warnings_total",  # {rule}: experimental rules, never enqueued
        "riskloop_rules_reloads_total",  # {result=accepted|rejected}, no series before one
        "riskloop_ruleset_info",  # gauge {version}: 1 for the running rules folder's hash
        "riskloop_checkpoint_failures_total",  # checkpoints the state changelog refused
    }
)
# Scraped as job "riskloop-api" (:8000/metrics).
API_METRICS = frozenset(
    {
        "riskloop_clues",  # gauge {status}
        "riskloop_clue_transitions_total",  # {action}
        "riskloop_api_request_seconds_bucket",  # histogram {method, route, status}
        "riskloop_clue_time_to_claim_seconds_bucket",  # histogram: dispatch -> first claim
        "riskloop_clue_time_to_dispose_seconds_bucket",  # histogram: dispatch -> disposal
        # Read from Redis on every scrape (durable across API restarts):
        "riskloop_clue_backlog",  # gauge {status, colour=green|blue|yellow|red|""}, 0s left out
        "riskloop_clue_deadlines_total",  # {stage=sign|dispose|dispose_unpaused, result}
        "riskloop_clue_on_time_ratio",  # gauge {stage}, only once a deadline of it was counted
        "riskloop_clue_returns_total",  # {reason}, no series before a return
        "riskloop_clue_rework_total",
        "riskloop_clue_supervision_tickets_total",  # {reason=overdue|rework}, none before one
        "riskloop_clue_escalations_total",
        "riskloop_clue_closed_total",  # {rule, code, outcome}, none before a clue closes
        "riskloop_clue_rule_precision",  # gauge {rule}, over closed clues
    }
)
CONTRACT = WORKER_METRICS | API_METRICS
