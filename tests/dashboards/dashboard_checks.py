"""Lint rules over dashboard JSON (the handful of grafana/dashboard-linter rules that matter
here), written independently of dashboards/ so they can catch its mistakes.

Each check returns a list of problems; an empty list means the dashboard passes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
SCHEMA_DIR = REPO.parent / "shared" / "grafana-schema"
DATASOURCES_YAML = REPO / "dashboards" / "provisioning" / "datasources" / "riskloop.yaml"

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENT = re.compile(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "inf", "nan"}
_RANGE_CALL = re.compile(r"\b(rate|irate|increase)\(\s*[^\[\)]*\[([^\]]*)\]")
_COUNTER_WRAP = re.compile(r"\b(?:rate|irate|increase)\(\s*$")
_VAR_USE = re.compile(r"\$\{(\w+)|\$(\w+)|\[\[(\w+)")


def all_panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, rows and the panels nested in (collapsed) rows included."""
    stack = list(reversed(board.get("panels") or []))
    while stack:
        panel = stack.pop()
        yield panel
        stack.extend(reversed(panel.get("panels") or []))


def content_panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in all_panels(board) if p.get("type") != "row"]


def exprs(board: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title, raw expr) of every target."""
    return [
        (p.get("title", ""), t["expr"])
        for p in content_panels(board)
        for t in p.get("targets") or []
        if t.get("expr")
    ]


def metric_names(expr: str) -> set[str]:
    """Series names a PromQL expression selects (functions, labels and keywords removed)."""
    text = _STRING.sub('""', expr)
    text = _MATCHERS.sub("", text)
    text = _RANGES.sub("", text)
    text = _GROUPING.sub("", text)
    names = set()
    for match in _IDENT.finditer(text):
        name, call = match.group(1), match.group(2)
        if call or name.lower() in _KEYWORDS:  # NaN and Inf are literals in any case
            continue
        names.add(name)
    return names


def counter_problems(expr: str) -> list[str]:
    """Counters (``*_total``) and histogram buckets not read through rate/irate/increase."""
    problems = []
    for name in metric_names(expr):
        if not name.endswith(("_total", "_bucket")):
            continue
        for match in re.finditer(rf"\b{re.escape(name)}\b", expr):
            if not _COUNTER_WRAP.search(expr[: match.start()]):
                problems.append(f"{name} not wrapped in rate/increase in {expr!r}")
    return problems


def range_problems(expr: str) -> list[str]:
    """rate/irate windows other than ``$__rate_interval``; increase windows other than
    ``$__rate_interval`` or ``$__range``."""
    problems = []
    for fn, window in _RANGE_CALL.findall(expr):
        allowed = {"$__rate_interval"} if fn != "increase" else {"$__rate_interval", "$__range"}
        if window not in allowed:
            problems.append(f"{fn}(…[{window}]) should use {sorted(allowed)}")
    return problems


def duplicate_ids(board: dict[str, Any]) -> list[Any]:
    seen: set[Any] = set()
    dupes = []
    for panel in all_panels(board):
        pid = panel.get("id")
        if pid is None or pid in seen:
            dupes.append(pid)
        seen.add(pid)
    return dupes


def grid_problems(board: dict[str, Any]) -> list[str]:
    """Panels outside the 24-column grid, and pairs of panels that overlap."""
    problems: list[str] = []
    boxes: list[tuple[Any, tuple[int, int, int, int]]] = []
    for panel in all_panels(board):
        g = panel.get("gridPos") or {}
        x, y, w, h = (g.get(k, -1) for k in ("x", "y", "w", "h"))
        title = panel.get("title", panel.get("id"))
        if x < 0 or y < 0 or w < 1 or h < 1 or x + w > 24:
            problems.append(f"{title!r}: gridPos {g} is outside the 24-column grid")
        for other, (ox, oy, ow, oh) in boxes:
            if x < ox + ow and ox < x + w and y < oy + oh and oy < y + h:
                problems.append(f"{title!r} overlaps {other!r}")
        boxes.append((title, (x, y, w, h)))
    return problems


def panels_without_targets(board: dict[str, Any]) -> list[str]:
    return [p.get("title", "") for p in content_panels(board) if not p.get("targets")]


def panels_without_unit(board: dict[str, Any]) -> list[str]:
    return [
        p.get("title", "")
        for p in content_panels(board)
        if not ((p.get("fieldConfig") or {}).get("defaults") or {}).get("unit")
    ]


def provisioned_uids(path: Path = DATASOURCES_YAML) -> set[str]:
    doc = yaml.safe_load(path.read_text("utf-8"))
    return {ds["uid"] for ds in doc["datasources"]}


def datasource_refs(board: dict[str, Any]) -> list[tuple[str, Any]]:
    """(where, uid) for each panel, target and variable data source reference."""
    refs: list[tuple[str, Any]] = []
    for panel in content_panels(board):
        title = panel.get("title", "")
        refs.append((f"panel {title!r}", (panel.get("datasource") or {}).get("uid")))
        for target in panel.get("targets") or []:
            refs.append((f"target of {title!r}", (target.get("datasource") or {}).get("uid")))
    for var in (board.get("templating") or {}).get("list") or []:
        if var.get("type") == "query":
            refs.append((f"variable {var['name']}", (var.get("datasource") or {}).get("uid")))
    return refs


def undefined_variables(board: dict[str, Any]) -> set[str]:
    """``$name`` references (Grafana's own ``$__…`` macros aside) missing from templating."""
    defined = {v["name"] for v in (board.get("templating") or {}).get("list") or []}
    used: set[str] = set()
    texts = [e for _, e in exprs(board)]
    texts += [str(v.get("query", "")) for v in (board.get("templating") or {}).get("list") or []]
    for text in texts:
        for groups in _VAR_USE.findall(text):
            used.update(g for g in groups if g and not g.startswith("__"))
    return used - defined
