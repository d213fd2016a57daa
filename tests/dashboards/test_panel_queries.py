"""``panel_queries`` turns every panel's query into PromQL a bare Prometheus can run."""

from __future__ import annotations

import json

import pytest
from dashboard_checks import REPO, content_panels

from dashboards.panels import duration_seconds, panel_queries

NESTED = {
    "templating": {
        "list": [
            {"name": "rule", "type": "query", "includeAll": True, "allValue": ".*"},
            {"name": "region", "type": "custom", "current": {"value": ["330106", "330108"]}},
            {"name": "env", "type": "constant", "query": "prod"},
        ]
    },
    "panels": [
        {"type": "row", "title": "Collapsed", "collapsed": True, "panels": [
            {"title": "Inside", "targets": [
                {"refId": "A", "expr": 'sum(rate(a_total{rule=~"$rule"}[$__rate_interval]))'},
                {"refId": "B", "expr": "up", "hide": True},
            ]},
        ]},
        {"title": "Top", "targets": [
            {"refId": "A", "expr": 'sum(increase(b_total{region=~"${region}"}[$__range]))'},
            {"refId": "B", "expr": 'c{env="[[env]]"} * $__range_s / $__interval_ms'},
        ]},
    ],
}  # fmt: skip


def test_rows_are_recursed_macros_and_variables_substituted() -> None:
    got = panel_queries(NESTED, rate_interval="2m")

    assert got == [
        ("Inside", 'sum(rate(a_total{rule=~".*"}[2m]))'),
        ("Top", 'sum(increase(b_total{region=~"330106|330108"}[1h]))'),
        ("Top", 'c{env="prod"} * 3600 / 120000'),
    ]


def test_interval_range_and_variables_can_be_chosen() -> None:
    got = panel_queries(
        NESTED, rate_interval="30s", interval="15s", range_="6h", variables={"rule": "r1"}
    )

    assert got[0] == ("Inside", 'sum(rate(a_total{rule=~"r1"}[30s]))')
    assert got[2] == ("Top", 'c{env="prod"} * 21600 / 15000')


def test_an_undefined_variable_is_reported_by_name() -> None:
    board = {"panels": [{"title": "T", "targets": [{"expr": 'x{a="$nope"}'}]}]}

    with pytest.raises(ValueError, match=r"\$nope"):
        panel_queries(board)


def test_bad_durations_are_rejected() -> None:
    assert duration_seconds("1h30m") == 5400
    with pytest.raises(ValueError, match="duration"):
        duration_seconds("an hour")


@pytest.mark.parametrize("path", sorted((REPO / "dashboards").glob("riskloop-*.json")))
def test_every_committed_target_comes_out_runnable(path) -> None:
    board = json.loads(path.read_text("utf-8"))
    targets = [t for p in content_panels(board) for t in p["targets"] if "expr" in t]

    got = panel_queries(board)

    assert len(got) == len(targets)
    assert all("$" not in q and "[[" not in q for _, q in got), got
