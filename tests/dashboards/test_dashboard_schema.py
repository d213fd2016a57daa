"""The committed dashboards validate against Grafana's own JSON Schemas (Draft 7), read from
``shared/grafana-schema/`` next to the repository, and a typo'd copy does not."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from dashboard_checks import REPO, SCHEMA_DIR, content_panels

DASHBOARD_FILES = sorted((REPO / "dashboards").glob("riskloop-*.json"))


@pytest.fixture(scope="module")
def schema_dir() -> Path:
    if not (SCHEMA_DIR / "dashboard.jsonschema.json").is_file():
        pytest.skip(f"Grafana JSON Schemas not found: {SCHEMA_DIR} (shared/ is not checked out)")
    return SCHEMA_DIR


@cache
def _schema(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text("utf-8"))


def dashboard_errors(schema_dir: Path, board: dict[str, Any]) -> list[str]:
    """Every schema error, with the reasons behind "not valid under any of" (panel unions)."""
    validator = jsonschema.Draft7Validator(_schema(schema_dir / "dashboard.jsonschema.json"))
    return [_describe(e) for e in validator.iter_errors(board)]


def _describe(error: jsonschema.ValidationError) -> str:
    reasons = sorted({sub.message for sub in error.context or []})
    return f"{error.json_path}: {error.message}" + "".join(f"\n  - {r}" for r in reasons)


def plugin_errors(
    schema_dir: Path, panel: dict[str, Any], definition: str, value: Any
) -> list[str] | None:
    """Errors of ``value`` against ``#/definitions/<definition>`` of the panel type's schema;
    None when Grafana publishes no such schema for the type."""
    path = schema_dir / f"{panel['type']}.jsonschema.json"
    if not path.is_file() or definition not in _schema(path)["definitions"]:
        return None
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$ref": f"#/definitions/{definition}",
        "definitions": _schema(path)["definitions"],
    }
    return [e.message for e in jsonschema.Draft7Validator(schema).iter_errors(value)]


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text("utf-8"))


def test_the_five_dashboards_are_committed() -> None:
    assert [p.name for p in DASHBOARD_FILES] == [
        "riskloop-clue-queue.json",
        "riskloop-detectors.json",
        "riskloop-pipeline-health.json",
        "riskloop-risk-overview.json",
        "riskloop-supervisor.json",
    ]


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.stem)
def test_dashboard_validates_against_grafana_dashboard_schema(schema_dir: Path, path: Path) -> None:
    assert dashboard_errors(schema_dir, load(path)) == []


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.stem)
def test_panel_options_and_custom_field_config_validate_against_plugin_schemas(
    schema_dir: Path, path: Path
) -> None:
    checked = 0
    for panel in content_panels(load(path)):
        options_errors = plugin_errors(schema_dir, panel, "Options", panel.get("options", {}))
        custom = panel["fieldConfig"]["defaults"].get("custom")
        custom_errors = plugin_errors(schema_dir, panel, "FieldConfig", custom or {})
        assert options_errors in (None, []), (panel["title"], options_errors)
        assert custom_errors in (None, []), (panel["title"], custom_errors)
        checked += options_errors is not None
    assert checked >= 3, "every dashboard should have panels whose plugin has a schema"


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.stem)
def test_every_target_validates_against_the_prometheus_query_schema(
    schema_dir: Path, path: Path
) -> None:
    validator = jsonschema.Draft7Validator(_schema(schema_dir / "prometheus.jsonschema.json"))
    for panel in content_panels(load(path)):
        for target in panel["targets"]:
            if target["datasource"]["type"] != "prometheus":
                continue  # the supervisor views: Infinity targets, run by test_views_panels
            errors = [e.message for e in validator.iter_errors(target)]
            assert errors == [], (panel["title"], target["refId"], errors)


def test_a_dashboard_with_typod_keys_fails_validation(schema_dir: Path) -> None:
    board = load(REPO / "dashboards" / "riskloop-pipeline-health.json")
    broken = copy.deepcopy(board)
    broken["refersh"] = broken.pop("refresh")
    panel = content_panels(broken)[0]
    panel["gridpos"] = panel.pop("gridPos")

    errors = dashboard_errors(schema_dir, broken)

    assert dashboard_errors(schema_dir, board) == []
    assert any("'refersh' was unexpected" in e for e in errors), errors
    assert any("'gridpos' was unexpected" in e for e in errors), errors


def test_a_panel_with_a_typod_option_fails_its_plugin_schema(schema_dir: Path) -> None:
    board = load(REPO / "dashboards" / "riskloop-pipeline-health.json")
    panel = next(p for p in content_panels(board) if p["type"] == "timeseries")
    options = copy.deepcopy(panel["options"])
    options["legned"] = options.pop("legend")

    errors = plugin_errors(schema_dir, panel, "Options", options)

    assert errors is not None
    assert any("'legend' is a required property" in e for e in errors), errors
    assert any("'legned' was unexpected" in e for e in errors), errors
