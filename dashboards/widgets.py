"""Small panel builders over grafana-foundation-sdk, and the post-processing that makes its
output stable and importable.

Every panel uses the Prometheus data source ``prom`` (provisioned in
``dashboards/provisioning/datasources/riskloop.yaml``) and sets a unit. PromQL helpers keep
the house conventions in one place: counters are always read through ``rate``/``increase``
over ``$__rate_interval``, latencies through ``histogram_quantile``.

>>> rate_by("riskloop_events_in_total", "topic", 'topic=~"$topic"')
'sum by (topic) (rate(riskloop_events_in_total{topic=~"$topic"}[$__rate_interval]))'
>>> quantile(0.95, "api_seconds_bucket", "route")
'histogram_quantile(0.95, sum by (le, route) (rate(api_seconds_bucket[$__rate_interval])))'
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

PROM_UID = "prom"
PROM = dash_m.DataSourceRef(type_val="prometheus", uid=PROM_UID)
RATE = "$__rate_interval"


# --- PromQL helpers -------------------------------------------------------------------------


def _sel(selector: str) -> str:
    return "{" + selector + "}" if selector else ""


def _sum(by: str) -> str:
    return f"sum by ({by}) " if by else "sum"


def rate_by(metric: str, by: str = "", selector: str = "", *, fn: str = "rate") -> str:
    """``sum [by (labels)] (rate(metric{selector}[$__rate_interval]))``."""
    return f"{_sum(by)}({fn}({metric}{_sel(selector)}[{RATE}]))"


def increase_in_range(metric: str, by: str = "", selector: str = "") -> str:
    """Total increase of a counter over the dashboard's time range (``$__range``)."""
    return f"{_sum(by)}(increase({metric}{_sel(selector)}[$__range]))"


def quantile(q: float, bucket_metric: str, by: str = "", selector: str = "") -> str:
    """``histogram_quantile`` of a Prometheus histogram, optionally kept apart by labels."""
    labels = f"le, {by}" if by else "le"
    return (
        f"histogram_quantile({q}, sum by ({labels}) "
        f"(rate({bucket_metric}{_sel(selector)}[{RATE}])))"
    )


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
    w: int = 12,
    h: int = 8,
) -> ts_b.Panel:
    """A time-series panel with a table legend (last, max) and a sorted shared tooltip."""
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
    return panel


def stat(
    title: str, unit: str, target: prom_b.Dataquery, *, description: str, w: int = 6, h: int = 4
) -> stat_b.Panel:
    """A single-number panel with a sparkline, reducing the series to its last value."""
    reduce = common_b.ReduceDataOptions().calcs(["lastNotNull"]).values(False)
    return (
        stat_b.Panel()
        .title(title)
        .description(description)
        .datasource(PROM)
        .unit(unit)
        .span(w)
        .height(h)
        .with_target(target)
        .graph_mode(common_m.BigValueGraphMode.AREA)
        .color_mode(common_m.BigValueColorMode.VALUE)
        .justify_mode(common_m.BigValueJustifyMode.AUTO)
        .text_mode(common_m.BigValueTextMode.AUTO)
        .wide_layout(True)
        .show_percent_change(False)
        .percent_change_color_mode(common_m.PercentChangeColorMode.STANDARD)
        .orientation(common_m.VizOrientation.AUTO)
        .reduce_options(reduce)
    )


def table(
    title: str,
    unit: str,
    target: prom_b.Dataquery,
    *,
    description: str,
    sort_by: str = "Value",
    w: int = 12,
    h: int = 8,
) -> table_b.Panel:
    """A table of an instant query (one row per series), the ``Time`` column hidden."""
    organize = dash_m.DataTransformerConfig(
        id_val="organize", options={"excludeByName": {"Time": True}}
    )
    return (
        table_b.Panel()
        .title(title)
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
    metric: str, qs: tuple[float, ...], by: str = "", selector: str = ""
) -> list[prom_b.Dataquery]:
    """One target per quantile, legend ``[{{by}} ]pNN``."""
    prefix = "{{" + by + "}} " if by else ""
    return [query(quantile(q, metric, by, selector), f"{prefix}p{round(q * 100)}") for q in qs]


def per_minute(metric: str, by: str = "", selector: str = "") -> str:
    """A counter's rate in events per minute (for slow, human-scale counts)."""
    return f"60 * {rate_by(metric, by, selector)}"


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
