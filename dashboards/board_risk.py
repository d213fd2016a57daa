"""Risk overview: warnings by rule, severity, region and department over time, and what the
rule engine held back (suppressed) or only observed (shadow mode)."""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders import dashboard as dash_b

from dashboards.promql import increase_in_range, or_zero, per_minute
from dashboards.widgets import (
    dashboard,
    query,
    stat,
    table,
    timeseries,
    to_dict,
    variable,
)

WARNINGS = "riskloop_warnings_total"
RISK_SEL = 'rule=~"$rule", severity=~"$severity", region=~"$region", department=~"$department"'
RULE = 'rule=~"$rule"'
STATS = "riskloop_rule_stats"
# Every rule the engine has counted anything for: the 0 fallback of the per-rule panels.
KNOWN_RULES = f"max by (rule) ({STATS}{{{RULE}}})"


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


def _risk_engine() -> dash_b.Row:
    suppressed = f'sum by (rule) ({STATS}{{stat="suppressed", {RULE}}})'
    shadow = per_minute("riskloop_shadow_warnings_total", "rule", RULE)
    counters = f"sum by (rule, stat) ({STATS}{{{RULE}}})"
    return (
        dash_b.Row("Rule engine")
        .with_panel(
            timeseries(
                "Suppressed per rule",
                "short",
                [query(or_zero(suppressed, KNOWN_RULES), "{{rule}}")],
                description="Hits a rule's suppression window held back since the rule set "
                "was loaded (all workers). Rule filter only.",
            )
        )
        .with_panel(
            timeseries(
                "Shadow warnings per rule",
                "cpm",
                [query(or_zero(shadow, KNOWN_RULES), "{{rule}}")],
                description="Warnings per minute of experimental rules in shadow mode: "
                "counted, never made into clues. 0 for rules that raised none.",
            )
        )
        .with_panel(
            table(
                "Engine counters per rule",
                "short",
                query(counters, instant=True, fmt="table"),
                description="Since the rule set was loaded: emitted, suppressed, excepted "
                "(an exception matched), shadow (experimental) and resolved, per rule.",
                sort_by="emitted",
                matrix=("rule", "stat"),
                w=24,
            )
        )
    )


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
    """Warnings by rule, severity, region and department over time; engine counters."""
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
        .with_row(_risk_engine())
        .with_row(_risk_top())
    )
    return to_dict(board)
