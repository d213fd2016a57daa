"""Clue queue: backlog, deadlines (colours, on-time ratios, time to claim and to dispose),
returns and escalations, upserts, transitions, precision per rule, API latency."""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders import dashboard as dash_b

from dashboards.promql import (
    increase_in_range,
    none_label,
    or_undefined,
    or_zero,
    per_minute,
    rate_by,
)
from dashboards.widgets import (
    dashboard,
    quantile_targets,
    query,
    stat,
    table,
    timeseries,
    to_dict,
    variable,
)

RULE = 'rule=~"$rule"'
DISPOSITIONS = "riskloop_dispositions_total"
BACKLOG = "riskloop_clue_backlog"
NOT_TERMINAL = 'status!~"closed|merged"'
# Series colours of the deadline colours; "none" = no running deadline.
COLOURS = {"green": "green", "blue": "blue", "yellow": "yellow", "red": "red", "none": "#808080"}
COLOUR_KEY = (
    "green: on track; blue: due within a few working days; yellow: due today, or not claimed "
    "within the sign-in term; red: overdue; none: no running deadline (new, suspended, "
    "disposed, under review)."
)


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


def _deadline_stats() -> list[Any]:
    red = or_zero(f'sum({BACKLOG}{{colour="red", {NOT_TERMINAL}}})')
    on_time = 'max by (stage) (riskloop_clue_on_time_ratio{stage=~"sign|dispose"})'
    return [
        stat(
            "Overdue (red) clues",
            "short",
            query(red),
            description="Open clues past their deadline. Red clues escalate while they stay red.",
            alarm_at=1,
        ),
        stat(
            "On time: sign / dispose",
            "percentunit",
            query(on_time, "{{stage}}"),
            description="Share of deadlines met, all time: sign = first claim within the "
            "sign-in term; dispose = disposed within the deadline (counted at close).",
        ),
        stat(
            "Time to claim p50 / p95 in range",
            "s",
            quantile_targets(
                "riskloop_clue_time_to_claim_seconds_bucket", (0.5, 0.95), in_range=True
            ),
            description="From dispatch to an inspector's first claim (签收), claims in the range.",
        ),
        stat(
            "Time to dispose p50 / p95 in range",
            "s",
            quantile_targets(
                "riskloop_clue_time_to_dispose_seconds_bucket", (0.5, 0.95), in_range=True
            ),
            description="From dispatch to disposal (处置), suspended time left out, "
            "disposals in the range.",
        ),
    ]


def _clue_deadlines() -> dash_b.Row:
    by_colour = none_label(f"sum by (colour) ({BACKLOG}{{{NOT_TERMINAL}}})", "colour")
    grid = none_label(f"sum by (status, colour) ({BACKLOG}{{{NOT_TERMINAL}}})", "colour")
    met = increase_in_range("riskloop_clue_deadlines_total", "stage, result")
    row = dash_b.Row("Deadlines")
    for panel in _deadline_stats():
        row = row.with_panel(panel)
    return (
        row.with_panel(
            timeseries(
                "Backlog by deadline colour",
                "short",
                [query(by_colour, "{{colour}}")],
                description="Open clues by deadline colour, stacked. " + COLOUR_KEY,
                stacked=True,
                colours=COLOURS,
            )
        )
        .with_panel(
            timeseries(
                "On-time ratio by stage",
                "percentunit",
                [query("max by (stage) (riskloop_clue_on_time_ratio)", "{{stage}}")],
                description="Share of deadlines met, all time. dispose_unpaused: as if "
                "suspended time had counted against the deadline.",
                bounds=(0, 1),
            )
        )
        .with_panel(
            table(
                "Open clues by status and colour",
                "short",
                query(grid, instant=True, fmt="table"),
                description="Where the backlog waits and how late it is. " + COLOUR_KEY,
                sort_by="red",
                matrix=("status", "colour"),
            )
        )
        .with_panel(
            table(
                "Deadlines met and missed in range",
                "short",
                query(met, instant=True, fmt="table"),
                description="Deadlines that came due in the range, by stage: on time or late.",
                sort_by="late",
                matrix=("stage", "result"),
            )
        )
    )


def _clue_returns() -> dash_b.Row:
    row = dash_b.Row("Returns and escalations")
    for title, metric, description in (
        ("Returns in range", "riskloop_clue_returns_total",
         "Clues a department sent back (退单), all reasons."),
        ("Rework in range", "riskloop_clue_rework_total",
         "Reviews that rejected a disposal and sent the work back (重办)."),
        ("Supervision tickets in range", "riskloop_clue_supervision_tickets_total",
         "Tickets opened for overdue clues and for repeated rework."),
        ("Escalations in range", "riskloop_clue_escalations_total",
         "Red clues escalated one level further."),
    ):  # fmt: skip
        panel = stat(
            title, "short", query(or_zero(increase_in_range(metric))), description=description
        )
        row = row.with_panel(panel)
    return row


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
                "Precision per rule, at disposal",
                "percentunit",
                [query(precision, "{{rule}}")],
                description="Share of a rule's disposed clues that were confirmed, as the "
                "dispositions reach the worker (before review).",
                bounds=(0, 1),
            )
        )
        .with_panel(_closed_precision())
        .with_panel(_closed_by_rule())
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


def _closed_precision() -> Any:
    closed = f"max by (rule) (riskloop_clue_rule_precision{{{RULE}}})"
    known = f"max by (rule) (riskloop_rule_precision{{{RULE}}})"
    return timeseries(
        "Precision per rule, closed clues",
        "percentunit",
        [query(or_undefined(closed, known), "{{rule}}")],
        description="Confirmed / (confirmed + dismissed) over clues closed after review, "
        "duplicates and not-applicable left out. A rule with no closed clue yet has no value.",
        bounds=(0, 1),
    )


def _closed_by_rule() -> Any:
    closed = increase_in_range("riskloop_clue_closed_total", "rule, outcome", RULE)
    known = increase_in_range(DISPOSITIONS, "rule, outcome", RULE)
    return table(
        "Closed clues in range by rule",
        "short",
        query(or_zero(closed, known), instant=True, fmt="table"),
        description="Clues closed after review in the range, confirmed vs dismissed per rule.",
        sort_by="confirmed",
        matrix=("rule", "outcome"),
    )


def clue_queue() -> dict[str, Any]:
    """Backlog, deadlines, returns and escalations, flow, precision per rule, API latency."""
    board = (
        dashboard(
            "riskloop-clue-queue",
            "riskloop / Clue queue",
            "The verification queue: backlog, inspector flow and what each rule is worth.",
        )
        .with_variable(variable("rule", "Rule", DISPOSITIONS))
        .with_row(_clue_backlog())
        .with_row(_clue_deadlines())
        .with_row(_clue_returns())
        .with_row(_clue_flow())
        .with_row(_clue_quality())
    )
    return to_dict(board)
