"""The committed JSON is exactly what ``python -m dashboards.build`` produces, with the pinned
SDK build whose Grafana version docker-compose runs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from dashboard_checks import REPO

from dashboards import build


def test_sdk_pin_is_the_installed_build() -> None:
    assert build.SDK_PIN == "1769699379!11.6.0"
    assert build.installed_sdk() == build.SDK_PIN, (
        f"pip install 'grafana-foundation-sdk=={build.SDK_PIN}'"
    )


def test_pyproject_pins_the_same_sdk_build_if_it_lists_it() -> None:
    deps = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["project"]
    listed = [
        d
        for group in [deps.get("dependencies", []), *deps.get("optional-dependencies", {}).values()]
        for d in group
        if d.startswith("grafana-foundation-sdk")
    ]
    if not listed:
        pytest.skip("pyproject.toml does not list grafana-foundation-sdk yet")
    assert listed == [f"grafana-foundation-sdk=={build.SDK_PIN}"]


def test_compose_runs_the_grafana_version_of_the_sdk_pin() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text("utf-8"))
    image = compose["services"]["grafana"]["image"]

    assert re.fullmatch(r"grafana/grafana(-oss)?:[\w.]+", image), image
    assert image.split(":", 1)[1] == build.GRAFANA_VERSION == "11.6.0"


def test_committed_json_equals_what_the_build_produces() -> None:
    built = build.build_all()

    assert sorted(built) == sorted(p.name for p in (REPO / "dashboards").glob("riskloop-*.json"))
    for name, text in built.items():
        committed = (REPO / "dashboards" / name).read_text("utf-8")
        assert json.loads(committed) == json.loads(text), f"{name}: run python -m dashboards.build"
        assert committed == text, f"{name}: formatting drift, run python -m dashboards.build"


def test_check_mode_flags_a_stale_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    build.write_all(tmp_path)
    assert build.main(["--check", "--out", str(tmp_path)]) == 0

    stale = tmp_path / "riskloop-risk-overview.json"
    board = json.loads(stale.read_text("utf-8"))
    board["title"] = "edited by hand"
    stale.write_text(json.dumps(board), "utf-8")

    assert build.main(["--check", "--out", str(tmp_path)]) == 1
    assert "riskloop-risk-overview.json: stale" in capsys.readouterr().err


def test_module_entry_point_writes_the_four_files(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dashboards.build", "--out", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(build.DASHBOARDS)
