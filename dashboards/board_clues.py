"""Clue queue: backlog, upserts, transitions, dispositions and precision per rule, API latency."""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders import dashboard as dash_b

from dashboards.widgets import (
    dashboard,
    increase_in_range,
    per_minute,
    quantile_targets,
    query,
    rate_by,
    stat,
    table,
    timeseries,
    to_dict,
    variable,
)

RULE = 'rule=~"$rule"'
DISPOSITIONS = "riskloop_dispositions_total"


def _clue_backlog() -> dash_b.Row:
    confirmed = RULE + ', outcome="confirmed"'
    share = (
        f"{increase_in_range(DISPOSITIONS, '', confirmed)}"
        f" / {increase_in_range(DISPOSITIONS, '', RULE)}"
    )
    new_clues = increase_in_range("riskloop_clue_upserts_total", "", 'result="new"')
    return (
        dash_b.Row("Backlog")
        .with_panel(
            stat(
                "Open clues",
                "short",
                query('sum(riskloop_clues{status!~"disposed|closed"})'),
                description="Clues not yet disposed or closed.",
            )
        )
        .with_panel(
            stat(
                "New clues in range",
                "short",
                query(new_clues),
                description="Warnings that opened a new clue in the time range.",
            )
        )
        .with_panel(
            stat(
                "Dispositions in range",
                "short",
                query(increase_in_range(DISPOSITIONS, "", RULE)),
                description="Clues confirmed or dismissed in the time range.",
            )
        )
        .with_panel(
            stat(
                "Confirmed share in range",
                "percentunit",
                query(share),
                description="Confirmed / (confirmed + dismissed) in the time range.",
            )
        )
    )


def _clue_flow() -> dash_b.Row:
    return (
        dash_b.Row("Flow")
        .with_panel(
            timeseries(
                "Backlog by status",
                "short",
                [query("sum by (status) (riskloop_clues)", "{{status}}")],
                description="Clues per state, stacked.",
                stacked=True,
            )
        )
        .with_panel(
            timeseries(
                "Clue upserts: new / merged / duplicate",
                "cps",
                [query(rate_by("riskloop_clue_upserts_total", "result"), "{{result}}")],
                description="What each incoming warning did to the queue.",
                stacked=True,
            )
        )
        .with_panel(
            timeseries(
                "Transitions by action",
                "cps",
                [query(rate_by("riskloop_clue_transitions_total", "action"), "{{action}}")],
                description="Inspector and system actions per second (claim, verify, …).",
            )
        )
        .with_panel(
            timeseries(
                "API latency p95 by route",
                "s",
                quantile_targets("riskloop_api_request_seconds_bucket", (0.95,), "route"),
                description="95th percentile of clue API request time.",
            )
        )
    )


def _clue_quality() -> dash_b.Row:
    in_range = increase_in_range(DISPOSITIONS, "rule, outcome", RULE)
    precision = f"max by (rule) (riskloop_rule_precision{{{RULE}}})"
    return (
        dash_b.Row("Rule quality")
        .with_panel(
            timeseries(
                "Dispositions per rule: confirmed vs dismissed",
                "cpm",
                [query(per_minute(DISPOSITIONS, "rule, outcome", RULE), "{{rule}} {{outcome}}")],
                description="Dispositions per minute by rule and outcome.",
            )
        )
        .with_panel(
            timeseries(
                "Precision per rule",
                "percentunit",
                [query(precision, "{{rule}}")],
                description="Share of a rule's disposed clues that were confirmed.",
                bounds=(0, 1),
            )
        )
        .with_panel(
            table(
                "Dispositions in range by rule",
                "short",
                query(in_range, instant=True, fmt="table"),
                description="Confirmed and dismissed clues per rule in the time range.",
                w=24,
            )
        )
    )


def clue_queue() -> dict[str, Any]:
    """Backlog, upserts, transitions, dispositions, precision per rule, API latency."""
    board = (
        dashboard(
            "riskloop-clue-queue",
            "riskloop / Clue queue",
            "The verification queue: backlog, inspector flow and what each rule is worth.",
        )
        .with_variable(variable("rule", "Rule", DISPOSITIONS))
        .with_row(_clue_backlog())
        .with_row(_clue_flow())
        .with_row(_clue_quality())
    )
    return to_dict(board)
