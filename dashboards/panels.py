"""Walk a dashboard's panels and give each Prometheus query in a form Prometheus can run.

Grafana expands macros (``$__rate_interval``, ``$__interval``, ``$__range``, …) and template
variables before a query reaches Prometheus; :func:`panel_queries` does the same with fixed
values so a test can send every panel's query to ``/api/v1/query``.

>>> board = {
...     "templating": {"list": [{"name": "rule", "type": "query", "includeAll": True,
...                              "allValue": ".*"}]},
...     "panels": [{"type": "row", "title": "r", "panels": [{"title": "Warnings", "targets": [
...         {"expr": 'sum(rate(w_total{rule=~"$rule"}[$__rate_interval]))'}]}]}],
... }
>>> panel_queries(board, rate_interval="2m")
[('Warnings', 'sum(rate(w_total{rule=~".*"}[2m]))')]
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
# ${name}, ${name:format}, [[name]], [[name:format]] and $name, in that order of precedence.
_VARIABLE = re.compile(
    r"\$\{(?P<braced>\w+)(?::\w+)?\}|\[\[(?P<bracketed>\w+)(?::\w+)?\]\]|\$(?P<plain>\w+)"
)


def duration_seconds(text: str) -> float:
    """Seconds in a Prometheus duration such as ``1m``, ``1h30m`` or ``500ms``.

    >>> duration_seconds("1h30m"), duration_seconds("500ms")
    (5400, 0.5)
    """
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"{text!r} is not a duration like '1m' or '1h30m'")
    return sum(int(n) * _UNIT_SECONDS[u] for n, u in parts)


def iter_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every panel, depth first, rows included (their children follow them)."""
    for panel in panels:
        yield panel
        yield from iter_panels(panel.get("panels") or [])


def macro_values(rate_interval: str, interval: str, range_: str) -> dict[str, str]:
    """Values for Grafana's global macros, as Grafana would send them to Prometheus."""
    range_s = duration_seconds(range_)
    interval_s = duration_seconds(interval)
    return {
        "__rate_interval": rate_interval,
        "__rate_interval_ms": str(round(duration_seconds(rate_interval) * 1000)),
        "__interval": interval,
        "__interval_ms": str(round(interval_s * 1000)),
        "__range": range_,
        "__range_s": str(round(range_s)),
        "__range_ms": str(round(range_s * 1000)),
    }


def variable_values(
    dashboard: Mapping[str, Any], overrides: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Value of every template variable: an override, else "All" (its ``allValue`` or
    ``.*``) for variables that offer it, else the current value, else the constant."""
    values: dict[str, str] = {}
    for var in (dashboard.get("templating") or {}).get("list") or []:
        values[var["name"]] = _default_value(var)
    values.update(overrides or {})
    return values


def _default_value(var: Mapping[str, Any]) -> str:
    if var.get("includeAll"):
        return var.get("allValue") or ".*"
    if var.get("type") == "constant":
        return str(var.get("query", ""))
    current = (var.get("current") or {}).get("value")
    if isinstance(current, list):
        return "|".join(str(v) for v in current)
    return ".*" if current in (None, "", "$__all") else str(current)


def substitute(expr: str, values: Mapping[str, str]) -> str:
    """Replace every ``$name``, ``${name}`` and ``[[name]]`` in ``expr`` from ``values``.

    >>> substitute('x{a=~"$a"}[${__range}]', {"a": "1|2", "__range": "1h"})
    'x{a=~"1|2"}[1h]'
    """

    def one(match: re.Match[str]) -> str:
        name = match.group("braced") or match.group("bracketed") or match.group("plain")
        if name not in values:
            raise ValueError(f"query uses ${name}, which is neither a macro nor a variable")
        return values[name]

    return _VARIABLE.sub(one, expr)


def panel_queries(
    dashboard: dict,
    rate_interval: str = "1m",
    *,
    interval: str | None = None,
    range_: str = "1h",
    variables: Mapping[str, str] | None = None,
) -> list[tuple[str, str]]:
    """(panel title, runnable PromQL) for every query of every panel, rows recursed into.

    Macros become ``rate_interval``/``interval`` (default: ``rate_interval``)/``range_``;
    template variables become "All" (``.*``) unless given in ``variables``. Hidden targets
    and targets without an ``expr`` are skipped. Raises ValueError on an unknown ``$name``.
    """
    values = {
        **variable_values(dashboard, variables),
        **macro_values(rate_interval, interval or rate_interval, range_),
    }
    out: list[tuple[str, str]] = []
    for panel in iter_panels(dashboard.get("panels") or []):
        for target in panel.get("targets") or []:
            expr = target.get("expr")
            if not expr or target.get("hide"):
                continue
            out.append((panel.get("title", ""), substitute(expr, values)))
    return out
