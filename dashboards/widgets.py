"""Small panel builders over grafana-foundation-sdk, and the post-processing that makes its
output stable and importable.

Every panel uses the Prometheus data source ``prom`` (provisioned in
``dashboards/provisioning/datasources/riskloop.yaml``) and sets a unit. The PromQL itself is
written with the helpers of :mod:`dashboards.promql`.
"""

from __future__ import annotations

import json
import string
from collections.abc import Iterable
from typing import Any

from grafana_foundation_sdk.builders import common as common_b
from grafana_foundation_sdk.builders import dashboard as dash_b
from grafana_foundation_sdk.builders import heatmap as heatmap_b
from grafana_foundation_sdk.builders import prometheus as prom_b
from grafana_foundation_sdk.builders import stat as stat_b
from grafana_foundation_sdk.builders import table as table_b
from grafana_foundation_sdk.builders import timeseries as ts_b
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as common_m
from grafana_foundation_sdk.models import dashboard as dash_m
from grafana_foundation_sdk.models import heatmap as heatmap_m
from grafana_foundation_sdk.models import prometheus as prom_m

from dashboards.promql import quantile

PROM_UID = "prom"
PROM = dash_m.DataSourceRef(type_val="prometheus", uid=PROM_UID)


# --- targets and variables ------------------------------------------------------------------


def query(
    expr: str, legend: str = "", *, instant: bool = False, fmt: str | None = None
) -> prom_b.Dataquery:
    """A Prometheus target on the ``prom`` data source."""
    q = prom_b.Dataquery().expr(expr).datasource(PROM)
    if legend:
        q = q.legend_format(legend)
    q = q.instant() if instant else q.range()
    if fmt is not None:
        q = q.format(prom_m.PromQueryFormat(fmt))
    return q


def variable(name: str, label: str, metric: str) -> dash_b.QueryVariable:
    """A multi-select label variable (``label_values(metric, name)``) with an "All" option."""
    return (
        dash_b.QueryVariable(name)
        .label(label)
        .datasource(PROM)
        .query(f"label_values({metric}, {name})")
        .refresh(dash_m.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dash_m.VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".*")
        .current(dash_m.VariableOption(selected=True, text="All", value="$__all"))
    )


# --- panels ---------------------------------------------------------------------------------


def _legend() -> common_b.VizLegendOptions:
    return (
        common_b.VizLegendOptions()
        .display_mode(common_m.LegendDisplayMode.TABLE)
        .placement(common_m.LegendPlacement.BOTTOM)
        .show_legend(True)
        .calcs(["lastNotNull", "max"])
    )


def _tooltip() -> common_b.VizTooltipOptions:
    return (
        common_b.VizTooltipOptions()
        .mode(common_m.TooltipDisplayMode.MULTI)
        .sort(common_m.SortOrder.DESCENDING)
    )


def timeseries(
    title: str,
    unit: str,
    targets: Iterable[prom_b.Dataquery],
    *,
    description: str,
    stacked: bool = False,
    bounds: tuple[float, float] | None = None,
    colours: dict[str, str] | None = None,
    w: int = 12,
    h: int = 8,
) -> ts_b.Panel:
    """A time-series panel with a table legend (last, max) and a sorted shared tooltip.

    ``colours`` fixes the colour of series by display name (``{"red": "red"}``).
    """
    stacking = common_m.StackingMode.NORMAL if stacked else common_m.StackingMode.NONE
    panel = (
        ts_b.Panel()
        .title(title)
        .description(description)
        .datasource(PROM)
        .unit(unit)
        .span(w)
        .height(h)
        .targets(list(targets))
        .legend(_legend())
        .tooltip(_tooltip())
        .line_width(1)
        .fill_opacity(20 if stacked else 10)
        .stacking(common_b.StackingConfig().mode(stacking))
    )
    if bounds is not None:
        panel = panel.min(bounds[0]).max(bounds[1])
    for name, colour in (colours or {}).items():
        # "byNames" (object options) rather than "byName": Grafana's JSON Schema wants objects.
        names = dash_m.MatcherConfig(id_val="byNames", options={"mode": "include", "names": [name]})
        fixed = {"mode": "fixed", "fixedColor": colour}
        panel = panel.with_override(names, [dash_m.DynamicConfigValue(id_val="color", value=fixed)])
    return panel


def stat(
    title: str,
    unit: str,
    target: prom_b.Dataquery | list[prom_b.Dataquery],
    *,
    description: str,
    w: int = 6,
    h: int = 4,
    show: str = "auto",
    alarm_at: float | None = None,
) -> stat_b.Panel:
    """A single-number panel with a sparkline, reducing each series to its last value.

    ``show="name"`` shows the series' legend instead of its value (a version label);
    ``alarm_at`` turns the number red from that value up (green below).
    """
    reduce = common_b.ReduceDataOptions().calcs(["lastNotNull"]).values(False)
    queries = target if isinstance(target, list) else [target]
    panel = (
        stat_b.Panel()
        .title(title)
        .description(description)
        .datasource(PROM)
        .unit(unit)
        .span(w)
        .height(h)
        .targets(list(queries))
        .graph_mode(common_m.BigValueGraphMode.AREA)
        .color_mode(common_m.BigValueColorMode.VALUE)
        .justify_mode(common_m.BigValueJustifyMode.AUTO)
        .text_mode(common_m.BigValueTextMode(show))
        .wide_layout(True)
        .show_percent_change(False)
        .percent_change_color_mode(common_m.PercentChangeColorMode.STANDARD)
        .orientation(common_m.VizOrientation.AUTO)
        .reduce_options(reduce)
    )
    if alarm_at is not None:
        panel = panel.thresholds(thresholds((None, "green"), (alarm_at, "red")))
    return panel


def thresholds(*steps: tuple[float | None, str]) -> dash_b.ThresholdsConfig:
    """Absolute thresholds: ``(None, base colour), (value, colour from there up), …``."""
    return (
        dash_b.ThresholdsConfig()
        .mode(dash_m.ThresholdsMode.ABSOLUTE)
        .steps([dash_m.Threshold(value=v, color=c) for v, c in steps])
    )


def table(
    title: str,
    unit: str,
    target: prom_b.Dataquery,
    *,
    description: str,
    sort_by: str = "Value",
    matrix: tuple[str, str] | None = None,
    w: int = 12,
    h: int = 8,
) -> table_b.Panel:
    """A table of an instant query (one row per series), the ``Time`` column hidden.

    ``matrix=(row_label, column_label)`` pivots the series into a grid instead: one row per
    value of the first label, one column per value of the second, missing cells empty.
    """
    organize = dash_m.DataTransformerConfig(
        id_val="organize", options={"excludeByName": {"Time": True}}
    )
    panel = table_b.Panel()
    if matrix is not None:
        options = {"rowField": matrix[0], "columnField": matrix[1], "valueField": "Value"}
        pivot = dash_m.DataTransformerConfig(
            id_val="groupingToMatrix", options={**options, "emptyValue": "null"}
        )
        panel = panel.with_transformation(pivot)
    return (
        panel.title(title)
        .description(description)
        .datasource(PROM)
        .unit(unit)
        .span(w)
        .height(h)
        .with_target(target)
        .with_transformation(organize)
        .frame_index(0)
        .show_header(True)
        .sort_by([common_b.TableSortByFieldState().display_name(sort_by).desc(True)])
        .align(common_m.FieldTextAlignment.AUTO)
        .inspect(False)
    )


def heatmap(
    title: str, unit: str, target: prom_b.Dataquery, *, description: str, w: int = 12, h: int = 8
) -> heatmap_b.Panel:
    """A heatmap of pre-bucketed histogram data (``format: heatmap``, no re-calculation)."""
    color = (
        heatmap_b.HeatmapColorOptions()
        .mode(heatmap_m.HeatmapColorMode.SCHEME)
        .scheme("Oranges")
        .fill("dark-orange")
        .scale(heatmap_m.HeatmapColorScale.EXPONENTIAL)
        .exponent(0.5)
        .steps(64)
        .reverse(False)
    )
    return (
        heatmap_b.Panel()
        .title(title)
        .description(description)
        .datasource(PROM)
        .unit(unit)
        .span(w)
        .height(h)
        .with_target(target)
        .calculate(False)
        .color(color)
        .show_value(common_m.VisibilityMode.AUTO)
        .y_axis(heatmap_b.YAxisConfig().unit(unit).axis_placement(common_m.AxisPlacement.LEFT))
        .show_legend()
        .mode(common_m.TooltipDisplayMode.SINGLE)
        .hide_y_histogram()
        .exemplars_color("rgba(255,0,255,0.7)")
        .scale_distribution(
            common_b.ScaleDistributionConfig().type(common_m.ScaleDistribution.LINEAR)
        )
        .hide_from(common_b.HideSeriesConfig().tooltip(False).legend(False).viz(False))
    )


# --- dashboards -----------------------------------------------------------------------------

TAGS = ["riskloop"]


def dashboard(uid: str, title: str, description: str) -> dash_b.Dashboard:
    """Common settings: last hour, 30 s refresh, shared crosshair, links to the others."""
    links = (
        dash_b.DashboardLink("riskloop")
        .type(dash_m.DashboardLinkType.DASHBOARDS)
        .tags(TAGS)
        .as_dropdown(True)
        .keep_time(True)
        .include_vars(False)
    )
    return (
        dash_b.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(TAGS)
        .time("now-1h", "now")
        .refresh("30s")
        .timezone("browser")
        .tooltip(dash_m.DashboardCursorSync.CROSSHAIR)
        .link(links)
    )


def quantile_targets(
    metric: str, qs: tuple[float, ...], by: str = "", selector: str = "", *, in_range: bool = False
) -> list[prom_b.Dataquery]:
    """One target per quantile, legend ``[{{by}} ]pNN`` (see ``promql.quantile``)."""
    prefix = "{{" + by + "}} " if by else ""
    return [
        query(quantile(q, metric, by, selector, in_range=in_range), f"{prefix}p{round(q * 100)}")
        for q in qs
    ]


# --- post-processing ------------------------------------------------------------------------


def to_dict(builder: dash_b.Dashboard) -> dict[str, Any]:
    """Encode the built dashboard, then flatten rows and number panels and targets."""
    raw: dict[str, Any] = json.loads(JSONEncoder(sort_keys=True).encode(builder.build()))
    raw["panels"] = flatten_rows(raw.get("panels", []))
    number_panels(raw["panels"])
    return raw


def flatten_rows(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Turn the SDK's collapsed rows (children nested) into open rows (children follow).

    Grafana shows an open row's panels only when they sit at top level after the row, so a
    dashboard opens with every panel visible.
    """
    flat: list[dict[str, Any]] = []
    for panel in panels:
        if panel.get("type") != "row":
            flat.append(panel)
            continue
        children = panel.get("panels", [])
        flat.append({**panel, "collapsed": False, "panels": []})
        flat.extend(children)
    return flat


def number_panels(panels: list[dict[str, Any]]) -> None:
    """Give panels ids 1..n in order and each panel's targets refIds A, B, …."""
    for number, panel in enumerate(panels, start=1):
        panel["id"] = number
        for letter, target in zip(string.ascii_uppercase, panel.get("targets", []), strict=False):
            target["refId"] = letter


def render(dashboard: dict[str, Any]) -> str:
    """The committed text form: sorted keys, two-space indent, trailing newline."""
    return json.dumps(dashboard, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
