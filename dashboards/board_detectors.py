"""Detectors: anomaly score quantiles and adaptive thresholds per rule."""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders import dashboard as dash_b

from dashboards.promql import quantile, rate_by
from dashboards.widgets import (
    dashboard,
    heatmap,
    quantile_targets,
    query,
    timeseries,
    to_dict,
    variable,
)

RULE = 'rule=~"$rule"'
WARNINGS = "riskloop_warnings_total"
SCORES = "riskloop_detector_score_bucket"


def _detector_scores() -> dash_b.Row:
    threshold = f"max by (rule) (riskloop_detector_threshold{{{RULE}}})"
    distribution = f"sum by (le) (increase({SCORES}{{{RULE}}}[$__rate_interval]))"
    p99 = query(quantile(0.99, SCORES, "rule", RULE), "{{rule}} p99")
    return (
        dash_b.Row("Scores")
        .with_panel(
            timeseries(
                "Anomaly score p50/p95 per rule",
                "short",
                quantile_targets(SCORES, (0.5, 0.95), "rule", RULE),
                description="Quantiles of the detectors' scores (higher = more anomalous).",
            )
        )
        .with_panel(
            timeseries(
                "Adaptive threshold per rule",
                "short",
                [query(threshold, "{{rule}}")],
                description="The score above which a detector flags an event.",
            )
        )
        .with_panel(
            timeseries(
                "Score p99 vs threshold",
                "short",
                [p99, query(threshold, "{{rule}} threshold")],
                description="When p99 rides above the threshold, 1 % or more of events "
                "are flagged.",
            )
        )
        .with_panel(
            heatmap(
                "Score distribution",
                "short",
                query(distribution, "{{le}}", fmt="heatmap"),
                description="Detector scores per bucket over time, selected rules.",
            )
        )
    )


def _detector_warnings() -> dash_b.Row:
    return dash_b.Row("Warnings").with_panel(
        timeseries(
            "Warnings/s from the selected rules",
            "cps",
            [query(rate_by(WARNINGS, "rule", RULE), "{{rule}}")],
            description="Warnings raised by the selected detector rules.",
            w=24,
        )
    )


def detector_view() -> dict[str, Any]:
    """Anomaly score quantiles and adaptive thresholds per rule."""
    board = (
        dashboard(
            "riskloop-detectors",
            "riskloop / Detectors",
            "What the online anomaly detectors see and where they draw the line.",
        )
        .with_variable(variable("rule", "Rule", "riskloop_detector_threshold"))
        .with_row(_detector_scores())
        .with_row(_detector_warnings())
    )
    return to_dict(board)
