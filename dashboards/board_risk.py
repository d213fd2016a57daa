"""Risk overview: warnings by rule, severity, region and department over time."""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders import dashboard as dash_b

from dashboards.widgets import (
    dashboard,
    increase_in_range,
    per_minute,
    query,
    stat,
    table,
    timeseries,
    to_dict,
    variable,
)

WARNINGS = "riskloop_warnings_total"
RISK_SEL = 'rule=~"$rule", severity=~"$severity", region=~"$region", department=~"$department"'


def _risk_totals() -> dash_b.Row:
    severe = RISK_SEL + ', severity=~"high|critical"'
    return (
        dash_b.Row("Totals")
        .with_panel(
            stat(
                "Warnings in range",
                "short",
                query(increase_in_range(WARNINGS, "", RISK_SEL)),
                description="Warnings raised in the selected time range.",
                w=8,
            )
        )
        .with_panel(
            stat(
                "High and critical in range",
                "short",
                query(increase_in_range(WARNINGS, "", severe)),
                description="Warnings of severity high or critical in the time range.",
                w=8,
            )
        )
        .with_panel(
            stat(
                "Warnings per minute",
                "cpm",
                query(per_minute(WARNINGS, "", RISK_SEL)),
                description="Current rate of warnings for the selection.",
                w=8,
            )
        )
    )


def _risk_over_time() -> dash_b.Row:
    row = dash_b.Row("Over time")
    for label in ("rule", "severity", "region", "department"):
        row = row.with_panel(
            timeseries(
                f"Warnings by {label}",
                "cpm",
                [query(per_minute(WARNINGS, label, RISK_SEL), "{{" + label + "}}")],
                description=f"Warnings per minute, stacked by {label}.",
                stacked=True,
            )
        )
    return row


def _risk_top() -> dash_b.Row:
    top = f"topk(20, {increase_in_range(WARNINGS, 'rule, severity', RISK_SEL)})"
    return dash_b.Row("Top").with_panel(
        table(
            "Top rule × severity in range",
            "short",
            query(top, instant=True, fmt="table"),
            description="The 20 rule/severity pairs that raised most warnings in the range.",
            w=24,
        )
    )


def risk_overview() -> dict[str, Any]:
    """Warnings by rule, severity, region and department over time."""
    board = (
        dashboard(
            "riskloop-risk-overview",
            "riskloop / Risk overview",
            "Where risks are raised: by rule, severity, region and department.",
        )
        .with_variable(variable("rule", "Rule", WARNINGS))
        .with_variable(variable("severity", "Severity", WARNINGS))
        .with_variable(variable("region", "Region", WARNINGS))
        .with_variable(variable("department", "Department", WARNINGS))
        .with_row(_risk_totals())
        .with_row(_risk_over_time())
        .with_row(_risk_top())
    )
    return to_dict(board)
