"""Pipeline health: events/s per topic, consumer lag, dead letters, latency, warnings/s, and
the rule set the worker runs (version, reloads)."""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders import dashboard as dash_b

from dashboards.promql import increase_in_range, or_zero, rate_by
from dashboards.widgets import (
    dashboard,
    quantile_targets,
    query,
    stat,
    timeseries,
    to_dict,
    variable,
)

TOPIC = 'topic=~"$topic"'
WARNINGS = "riskloop_warnings_total"
LAG = (
    "max by (topic, partition) ("
    f"riskloop_topic_partition_end_offset{{{TOPIC}}}"
    f" - riskloop_topic_partition_offset_commited{{{TOPIC}}})"
)


def _pipeline_overview() -> dash_b.Row:
    return (
        dash_b.Row("Overview")
        .with_panel(
            stat(
                "Valid events/s",
                "eps",
                query(rate_by("riskloop_events_in_total", "", TOPIC)),
                description="Valid events processed per second on the selected topics.",
            )
        )
        .with_panel(
            stat(
                "Warnings/s",
                "cps",
                query(rate_by(WARNINGS)),
                description="Risk warnings raised per second, all rules.",
            )
        )
        .with_panel(
            stat(
                "Dead letters/s",
                "cps",
                query(rate_by("riskloop_deadletters_total", "", TOPIC)),
                description="Events sent to events.deadletter per second.",
            )
        )
        .with_panel(
            stat(
                "Consumer lag",
                "short",
                query(f"sum({LAG})"),
                description="Messages not yet committed by the worker, all partitions.",
            )
        )
    )


def _pipeline_throughput() -> dash_b.Row:
    received = rate_by("riskloop_messages_received_per_topic_total", "topic", TOPIC)
    return (
        dash_b.Row("Throughput and lag")
        .with_panel(
            timeseries(
                "Messages received per topic",
                "mps",
                [query(received, "{{topic}}")],
                description="Every message the worker consumed (faust's sensor).",
            )
        )
        .with_panel(
            timeseries(
                "Valid events processed per topic",
                "eps",
                [query(rate_by("riskloop_events_in_total", "topic", TOPIC), "{{topic}}")],
                description="Events that passed validation and reached the engine.",
            )
        )
        .with_panel(
            timeseries(
                "Consumer lag per topic/partition",
                "short",
                [query(LAG, "{{topic}}[{{partition}}]")],
                description="End offset minus committed offset per partition; "
                "a partition whose lag only grows is stuck.",
            )
        )
        .with_panel(
            timeseries(
                "Event-time watermark lag per partition",
                "s",
                [query("max by (partition) (riskloop_watermark_lag_seconds)", "{{partition}}")],
                description="Newest event time seen minus the watermark: "
                "how far event time trails on each partition.",
            )
        )
    )


def _pipeline_errors() -> dash_b.Row:
    return (
        dash_b.Row("Errors and latency")
        .with_panel(
            timeseries(
                "Dead letters by reason",
                "cps",
                [query(rate_by("riskloop_deadletters_total", "reason", TOPIC), "{{reason}}")],
                description="Bad input per second, by the reason the worker gave.",
                stacked=True,
            )
        )
        .with_panel(
            timeseries(
                "Warnings/s by severity",
                "cps",
                [query(rate_by(WARNINGS, "severity"), "{{severity}}")],
                description="Risk warnings raised per second.",
                stacked=True,
            )
        )
        .with_panel(
            timeseries(
                "Engine time per event p50/p95",
                "s",
                quantile_targets("riskloop_event_processing_seconds_bucket", (0.5, 0.95)),
                description="Rules and detectors time per event.",
            )
        )
        .with_panel(
            timeseries(
                "Faust event runtime p50/p95",
                "ms",
                quantile_targets("riskloop_events_runtime_ms_bucket", (0.5, 0.95)),
                description="Whole agent time per event, as faust's sensor measures it.",
            )
        )
    )


def _pipeline_rules() -> dash_b.Row:
    reloads = "riskloop_rules_reloads_total"
    return (
        dash_b.Row("Rule set")
        .with_panel(
            stat(
                "Running rule set",
                "short",
                query("max by (version) (riskloop_ruleset_info)", "{{version}}", instant=True),
                description="Version (content hash) of the rule set each worker runs. Two "
                "values mean the workers disagree: with RISKLOOP_RULES_SOURCE=topic only for "
                "the second of a switch; with per-worker folders until every folder is copied.",
                show="name",
                w=6,
            )
        )
        .with_panel(
            stat(
                "Rule set reloads in range",
                "short",
                query(or_zero(increase_in_range(reloads, "", 'result="accepted"'))),
                description="Changed rules folders validated and swapped in without a restart.",
                w=6,
            )
        )
        .with_panel(
            stat(
                "Rejected reloads in range",
                "short",
                query(or_zero(increase_in_range(reloads, "", 'result="rejected"'))),
                description="Changed rules folders that failed validation: the old set kept "
                "running; the worker log names file:line of each error.",
                alarm_at=1,
                w=6,
            )
        )
        .with_panel(
            stat(
                "Refused checkpoints in range",
                "short",
                query(or_zero(increase_in_range("riskloop_checkpoint_failures_total"))),
                description="Engine checkpoints the state changelog refused or did not "
                "confirm in time. Their events stay unacknowledged and are applied again, so "
                "nothing is lost, but a lasting count means the changelog topic needs a look "
                "(record size limit, broker health); the worker log says why.",
                alarm_at=1,
                w=6,
            )
        )
    )


def pipeline_health() -> dict[str, Any]:
    """Events/s per topic, lag, dead letters, latency, warnings/s, rule set, reloads and
    refused checkpoints."""
    board = (
        dashboard(
            "riskloop-pipeline-health",
            "riskloop / Pipeline health",
            "Is the stream processor keeping up? Throughput, lag, bad input, latency.",
        )
        .with_variable(variable("topic", "Topic", "riskloop_messages_received_per_topic_total"))
        .with_row(_pipeline_overview())
        .with_row(_pipeline_throughput())
        .with_row(_pipeline_errors())
        .with_row(_pipeline_rules())
    )
    return to_dict(board)
