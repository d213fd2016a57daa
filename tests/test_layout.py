"""The house keeps its floors: each top-level folder imports only the folders below it, the
pure core imports no adapter, nothing outside tests/ imports a test factory, and modules and
functions stay small (or say why at the top of their file)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Each folder may import itself and the folders listed for it: the floors of the README.
MAY_IMPORT = {
    "envelope": set(),
    "detectors": {"envelope"},
    "rules": {"envelope", "detectors"},  # the rule core; rules/tools is its own floor
    "clues": {"envelope", "rules"},
    "replay": {"envelope", "rules"},
    "rules/tools": {"envelope", "detectors", "rules", "replay"},
    "dashboards": {"envelope"},
    "streams": {"envelope", "detectors", "rules", "rules/tools", "clues", "replay"},
    "riskloop": {"envelope", "detectors", "rules", "rules/tools", "clues", "replay", "streams"},
}
PACKAGES = (
    "envelope",
    "detectors",
    "rules",
    "clues",
    "replay",
    "dashboards",
    "streams",
    "riskloop",
)
FACTORIES = {"event_factories", "clue_factories", "rule_factories", "detectors_fixtures"}


def floor_of(path: Path) -> str:
    rel = path.relative_to(ROOT).as_posix()
    return "rules/tools" if rel.startswith("rules/tools/") else rel.split("/", 1)[0]


def imported(path: Path) -> set[str]:
    """Top-level names a module imports (``rules.tools`` counted as its own floor)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            out.add("rules/tools" if name.startswith("rules.tools") else name.split(".")[0])
    return out


def modules() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def test_every_folder_imports_only_the_floors_below_it() -> None:
    climbs = []
    for path in modules():
        floor = floor_of(path)
        allowed = MAY_IMPORT[floor] | {floor} | ({"rules"} if floor == "rules/tools" else set())
        for name in imported(path) & (set(PACKAGES) | {"rules/tools"} | FACTORIES):
            if name not in allowed:
                climbs.append(f"{path.relative_to(ROOT)} imports {name}")
    assert climbs == []


def code_lines(text: str) -> int:
    return sum(1 for line in text.splitlines() if line.strip() and not line.strip().startswith("#"))


@pytest.mark.parametrize("path", modules(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_modules_and_functions_are_small_or_say_why(path: Path) -> None:
    text = path.read_text()
    head = "\n".join(text.splitlines()[:3]).lower()
    reason = "over 50 lines" in head or "over 400 lines" in head
    assert code_lines(text) <= 400 or reason, f"{code_lines(text)} lines of code"
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            doc = (
                body[0].end_lineno - body[0].lineno + 1  # type: ignore[operator]
                if body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                else 0
            )
            length = node.end_lineno - node.lineno + 1 - doc  # type: ignore[operator]
            assert length <= 50 or reason, f"{node.name} has {length} lines"
