"""The panels a supervisor looks for are where they would look: deadlines on the clue queue,
suppressed and shadow counts on the risk overview, the rule set on pipeline health; and every
query over a series that only appears after a rare event still returns something before it."""

from __future__ import annotations

import doctest
import json
import re
from typing import Any

import pytest
from dashboard_checks import REPO, exprs

from dashboards import panels, promql

BOARDS = {
    p.stem: json.loads(p.read_text("utf-8")) for p in (REPO / "dashboards").glob("riskloop-*.json")
}
# Series that exist only after an event a fresh system may not have seen yet.
SPARSE = {
    "riskloop_shadow_warnings_total": "a shadow-mode warning",
    "riskloop_rules_reloads_total": "a rule set reload",
    "riskloop_clue_returns_total": "a returned clue",
    "riskloop_clue_supervision_tickets_total": "a supervision ticket",
    "riskloop_clue_closed_total": "a closed clue",
    "riskloop_clue_rule_precision": "a closed clue",
    'colour="red"': "an overdue clue",
    'stat="suppressed"': "a suppressed hit",
}


def row_panels(board: dict[str, Any], row_title: str) -> list[dict[str, Any]]:
    """The panels under an (open) row: those after it up to the next row."""
    out: list[dict[str, Any]] = []
    inside = False
    for panel in board["panels"]:
        if panel["type"] == "row":
            inside = panel["title"] == row_title
        elif inside:
            out.append(panel)
    return out


def row_queries(board: dict[str, Any], row_title: str) -> str:
    return "\n".join(t["expr"] for p in row_panels(board, row_title) for t in p["targets"])


def test_clue_queue_has_a_deadlines_row_a_supervisor_can_act_on() -> None:
    queries = row_queries(BOARDS["riskloop-clue-queue"], "Deadlines")

    assert "sum by (colour) (riskloop_clue_backlog" in queries
    assert 'riskloop_clue_backlog{colour="red"' in queries
    assert "riskloop_clue_on_time_ratio" in queries
    for histogram in ("time_to_claim", "time_to_dispose"):
        for q in ("0.5", "0.95"):
            assert f"histogram_quantile({q}, sum by (le) (increase(riskloop_clue_{histogram}" in (
                queries
            )


def test_overdue_count_turns_red_from_one_clue() -> None:
    panel = next(
        p for p in row_panels(BOARDS["riskloop-clue-queue"], "Deadlines") if "red" in p["title"]
    )
    steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]

    assert [(s["value"], s["color"]) for s in steps] == [(None, "green"), (1, "red")]


def test_backlog_colours_are_drawn_in_their_own_colour() -> None:
    panel = next(
        p
        for p in row_panels(BOARDS["riskloop-clue-queue"], "Deadlines")
        if p["title"] == "Backlog by deadline colour"
    )
    fixed = {
        o["matcher"]["options"]["names"][0]: o["properties"][0]["value"]["fixedColor"]
        for o in panel["fieldConfig"]["overrides"]
    }

    assert {k: fixed[k] for k in ("green", "blue", "yellow", "red")} == {
        "green": "green",
        "blue": "blue",
        "yellow": "yellow",
        "red": "red",
    }
    assert '"colour", "none", "colour", ""' in panel["targets"][0]["expr"]


def test_clue_queue_shows_returns_rework_tickets_escalations_and_closed_precision() -> None:
    queries = "\n".join(e for _, e in exprs(BOARDS["riskloop-clue-queue"]))
    for name in ("returns", "rework", "supervision_tickets", "escalations"):
        assert f"increase(riskloop_clue_{name}_total[$__range])" in queries, name
    assert "sum by (rule, outcome) (increase(riskloop_clue_closed_total" in queries
    assert "max by (rule) (riskloop_clue_rule_precision" in queries


def test_risk_overview_shows_suppressed_and_shadow_per_rule() -> None:
    queries = row_queries(BOARDS["riskloop-risk-overview"], "Rule engine")

    assert 'sum by (rule) (riskloop_rule_stats{stat="suppressed"' in queries
    assert "sum by (rule) (rate(riskloop_shadow_warnings_total" in queries
    assert "sum by (rule, stat) (riskloop_rule_stats" in queries


def test_pipeline_health_shows_the_running_rule_set_and_reloads() -> None:
    row = row_panels(BOARDS["riskloop-pipeline-health"], "Rule set")
    version = next(p for p in row if p["title"] == "Running rule set")
    queries = row_queries(BOARDS["riskloop-pipeline-health"], "Rule set")

    assert version["options"]["textMode"] == "name"  # the hash, not the gauge's 1
    assert version["targets"][0]["legendFormat"] == "{{version}}"
    assert 'riskloop_rules_reloads_total{result="accepted"}' in queries
    assert 'riskloop_rules_reloads_total{result="rejected"}' in queries


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_sparse_series_have_a_fallback(name: str) -> None:
    missing = [
        f"{title}: {expr} (needs {event})"
        for title, expr in exprs(BOARDS[name])
        for series, event in SPARSE.items()
        if series in expr and " or " not in expr
    ]
    assert missing == []


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_matrix_tables_pivot_on_labels_their_query_keeps(name: str) -> None:
    checked = 0
    for panel in BOARDS[name]["panels"]:
        for tr in panel.get("transformations") or []:
            if tr["id"] != "groupingToMatrix":
                continue
            expr = panel["targets"][0]["expr"]
            kept = {
                label.strip()
                for group in re.findall(r"by \(([^)]*)\)", expr)
                for label in group.split(",")
            }
            assert {tr["options"]["rowField"], tr["options"]["columnField"]} <= kept, expr
            assert panel["targets"][0]["format"] == "table" and panel["targets"][0]["instant"]
            checked += 1
    if name in ("riskloop-clue-queue", "riskloop-risk-overview"):
        assert checked >= 1


@pytest.mark.parametrize("module", [promql, panels], ids=lambda m: m.__name__)
def test_examples_in_docstrings_hold(module: Any) -> None:
    result = doctest.testmod(module)

    assert result.attempted >= 3
    assert result.failed == 0
