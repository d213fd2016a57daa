"""Build riskloop's Grafana dashboards as code and write them next to this file.

``python -m dashboards.build`` rewrites ``dashboards/riskloop-*.json``;
``python -m dashboards.build --check`` exits 1 if the committed files differ from what the
code produces. Built with grafana-foundation-sdk ``1769699379!11.6.0`` (Grafana 11.6.0,
the version docker-compose runs).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from dashboards.board_clues import clue_queue
from dashboards.board_detectors import detector_view
from dashboards.board_pipeline import pipeline_health
from dashboards.board_risk import risk_overview
from dashboards.board_supervisor import supervisor_view
from dashboards.widgets import render

HERE = Path(__file__).resolve().parent
# The SDK build that generated the committed JSON; its Grafana version is the image tag in
# docker-compose.yml. Plain `pip install grafana-foundation-sdk` picks another build.
SDK_PIN = "1769699379!11.6.0"
GRAFANA_VERSION = SDK_PIN.split("!", 1)[1]


DASHBOARDS: dict[str, Callable[[], dict[str, Any]]] = {
    "riskloop-pipeline-health.json": pipeline_health,
    "riskloop-risk-overview.json": risk_overview,
    "riskloop-clue-queue.json": clue_queue,
    "riskloop-detectors.json": detector_view,
    "riskloop-supervisor.json": supervisor_view,
}


def build_all() -> dict[str, str]:
    """File name → rendered JSON text, for every dashboard."""
    return {name: render(make()) for name, make in DASHBOARDS.items()}


def stale_files(out_dir: Path = HERE) -> list[str]:
    """Names of dashboard files that are missing or differ from what the code builds."""
    return [
        name
        for name, text in build_all().items()
        if not (out_dir / name).is_file() or (out_dir / name).read_text("utf-8") != text
    ]


def write_all(out_dir: Path = HERE) -> list[Path]:
    """Write every dashboard into ``out_dir``; return the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in build_all().items():
        path = out_dir / name
        path.write_text(text, "utf-8")
        written.append(path)
    return written


def installed_sdk() -> str | None:
    """Version of the installed grafana-foundation-sdk, or None."""
    try:
        return version("grafana-foundation-sdk")
    except PackageNotFoundError:
        return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboards.build", description=__doc__)
    parser.add_argument("--out", type=Path, default=HERE, help="folder for the JSON files")
    parser.add_argument("--check", action="store_true", help="fail if committed JSON is stale")
    args = parser.parse_args(argv)
    if installed_sdk() != SDK_PIN:
        print(
            f"grafana-foundation-sdk {installed_sdk()} is installed, the dashboards are built "
            f"with {SDK_PIN}: pip install 'grafana-foundation-sdk=={SDK_PIN}'",
            file=sys.stderr,
        )
        return 2
    if args.check:
        stale = stale_files(args.out)
        for name in stale:
            print(f"{args.out / name}: stale, run `python -m dashboards.build`", file=sys.stderr)
        return 1 if stale else 0
    for path in write_all(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
