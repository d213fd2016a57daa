"""Structural invariants of the committed dashboards (what grafana/dashboard-linter and a
careful reviewer would check), plus proof that each check rejects a broken dashboard."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from dashboard_checks import (
    REPO,
    content_panels,
    counter_problems,
    datasource_refs,
    duplicate_ids,
    exprs,
    grid_problems,
    metric_names,
    panels_without_targets,
    panels_without_unit,
    provisioned_uids,
    range_problems,
    undefined_variables,
)

from dashboards.metrics import CONTRACT
from dashboards.panels import panel_queries

DASHBOARD_FILES = sorted((REPO / "dashboards").glob("riskloop-*.json"))
BOARDS = {p.stem: json.loads(p.read_text("utf-8")) for p in DASHBOARD_FILES}

# The metric-name contract, exactly as the worker and the API export it.
CONTRACT_NAMES = {
    "riskloop_messages_received_per_topic_total",
    "riskloop_topic_partition_end_offset",
    "riskloop_topic_partition_offset_commited",
    "riskloop_events_runtime_ms_bucket",
    "riskloop_events_in_total",
    "riskloop_deadletters_total",
    "riskloop_warnings_total",
    "riskloop_event_processing_seconds_bucket",
    "riskloop_watermark_lag_seconds",
    "riskloop_dispositions_total",
    "riskloop_rule_precision",
    "riskloop_detector_score_bucket",
    "riskloop_detector_threshold",
    "riskloop_clue_upserts_total",
    "riskloop_rule_stats",
    "riskloop_shadow_warnings_total",
    "riskloop_rules_reloads_total",
    "riskloop_ruleset_info",
    "riskloop_checkpoint_failures_total",
    "riskloop_clues",
    "riskloop_clue_transitions_total",
    "riskloop_api_request_seconds_bucket",
    "riskloop_clue_time_to_claim_seconds_bucket",
    "riskloop_clue_time_to_dispose_seconds_bucket",
    "riskloop_clue_backlog",
    "riskloop_clue_deadlines_total",
    "riskloop_clue_on_time_ratio",
    "riskloop_clue_returns_total",
    "riskloop_clue_rework_total",
    "riskloop_clue_supervision_tickets_total",
    "riskloop_clue_escalations_total",
    "riskloop_clue_closed_total",
    "riskloop_clue_rule_precision",
}

each_board = pytest.mark.parametrize("name", sorted(BOARDS))


def used_metrics(board: dict[str, Any]) -> set[str]:
    return {m for _, e in exprs(board) for m in metric_names(e)}


def test_the_contract_module_lists_exactly_the_contract() -> None:
    assert set(CONTRACT) == CONTRACT_NAMES


@each_board
def test_uid_is_prefixed_and_unique(name: str) -> None:
    uids = [b["uid"] for b in BOARDS.values()]
    assert BOARDS[name]["uid"].startswith("riskloop-")
    assert uids.count(BOARDS[name]["uid"]) == 1


@each_board
def test_panel_ids_are_unique(name: str) -> None:
    assert duplicate_ids(BOARDS[name]) == []


@each_board
def test_panels_stay_inside_the_grid_and_do_not_overlap(name: str) -> None:
    assert grid_problems(BOARDS[name]) == []


@each_board
def test_every_panel_has_a_target_and_a_unit(name: str) -> None:
    assert panels_without_targets(BOARDS[name]) == []
    assert panels_without_unit(BOARDS[name]) == []


@each_board
def test_every_datasource_uid_is_provisioned(name: str) -> None:
    known = provisioned_uids()
    refs = datasource_refs(BOARDS[name])
    assert refs, "panels must name their data source"
    assert [(where, uid) for where, uid in refs if uid not in known] == []


@each_board
def test_every_template_variable_used_is_defined(name: str) -> None:
    assert undefined_variables(BOARDS[name]) == set()


@each_board
def test_counters_go_through_rate_over_rate_interval(name: str) -> None:
    problems = [p for _, e in exprs(BOARDS[name]) for p in counter_problems(e) + range_problems(e)]
    assert problems == []


@each_board
def test_only_contract_metrics_are_queried(name: str) -> None:
    assert used_metrics(BOARDS[name]) - CONTRACT_NAMES == set()


def test_every_contract_metric_is_on_some_dashboard() -> None:
    used = set().union(*(used_metrics(b) for b in BOARDS.values()))
    assert CONTRACT_NAMES - used == set()


def test_pipeline_health_shows_throughput_lag_deadletters_latency_and_warnings() -> None:
    queries = " ".join(e for _, e in exprs(BOARDS["riskloop-pipeline-health"]))
    assert "sum by (topic) (rate(riskloop_messages_received_per_topic_total" in queries
    assert "max by (topic, partition) (riskloop_topic_partition_end_offset" in queries
    assert "sum by (reason) (rate(riskloop_deadletters_total" in queries
    for q in ("0.5", "0.95"):
        assert f"histogram_quantile({q}, sum by (le) (rate(riskloop_event_processing" in queries
    assert "rate(riskloop_warnings_total" in queries


def test_risk_overview_breaks_warnings_down_four_ways() -> None:
    queries = [e for _, e in exprs(BOARDS["riskloop-risk-overview"])]
    for label in ("rule", "severity", "region", "department"):
        assert any(f"sum by ({label}) (rate(riskloop_warnings_total" in q for q in queries), label


# --- the checks themselves can fail -----------------------------------------------------------


def _broken_board() -> dict[str, Any]:
    board = copy.deepcopy(BOARDS["riskloop-pipeline-health"])
    first, second = content_panels(board)[:2]
    second["id"] = first["id"]
    second["gridPos"] = dict(first["gridPos"], x=first["gridPos"]["x"] + 1)
    first["targets"][0]["expr"] = 'sum(riskloop_events_in_total{topic=~"$topc"})'
    first["targets"][0]["datasource"]["uid"] = "prometheus-typo"
    del first["fieldConfig"]["defaults"]["unit"]
    second["targets"] = []
    return board


def test_each_check_rejects_a_broken_dashboard() -> None:
    board = _broken_board()
    expr = content_panels(board)[0]["targets"][0]["expr"]

    assert duplicate_ids(board)
    assert any("overlaps" in p for p in grid_problems(board))
    assert panels_without_targets(board) == [content_panels(board)[1]["title"]]
    assert panels_without_unit(board) == [content_panels(board)[0]["title"]]
    assert ("target of 'Valid events/s'", "prometheus-typo") in datasource_refs(board)
    assert undefined_variables(board) == {"topc"}
    assert counter_problems(expr)
    assert range_problems("rate(riskloop_events_in_total[5m])")
    assert metric_names("rate(riskloop_event_total[1m])") - CONTRACT_NAMES == {
        "riskloop_event_total"
    }


# --- PromQL parses (promtool) -----------------------------------------------------------------


def promtool_check(queries: list[tuple[str, str]], tmp_path: Path) -> subprocess.CompletedProcess:
    """``promtool check rules`` over one recording rule per query: Prometheus' own parser."""
    rules = [{"record": f"riskloop:panel_{i}", "expr": q} for i, (_, q) in enumerate(queries)]
    path = tmp_path / "panels.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "panels", "rules": rules}]}), "utf-8")
    promtool = shutil.which("promtool")
    assert promtool is not None
    return subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )


@pytest.fixture
def needs_promtool() -> None:
    if shutil.which("promtool") is None:
        pytest.skip("promtool (Debian package prometheus) is not installed")


@each_board
def test_every_panel_query_parses_as_promql(needs_promtool: None, name: str, tmp_path: Path):
    queries = panel_queries(BOARDS[name], rate_interval="1m")
    result = promtool_check(queries, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_rejects_a_malformed_panel_query(needs_promtool: None, tmp_path: Path) -> None:
    result = promtool_check([("bad", "sum(rate(riskloop_events_in_total))")], tmp_path)
    assert result.returncode != 0
    assert "range vector" in result.stdout + result.stderr
