"""Supervisor: risks on the warnings' own event time, read from the clue API's views
(``/views/…`` through the Infinity data source), not Prometheus rates of processing.

A month replayed in a minute shows here as the month it was: warnings and clues per local
day against the previous period, by district, department, rule and severity; who comes
back; what is overdue now (with a link to the clue on the inspector page); precision per
rule from the inspectors' verdicts. The token the data source sends scopes every number.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from grafana_foundation_sdk.builders import common as common_b
from grafana_foundation_sdk.builders import dashboard as dash_b
from grafana_foundation_sdk.builders import stat as stat_b
from grafana_foundation_sdk.builders import table as table_b
from grafana_foundation_sdk.builders import timeseries as ts_b
from grafana_foundation_sdk.models import common as common_m
from grafana_foundation_sdk.models import dashboard as dash_m

from dashboards.infinity import VIEWS, Column, ViewQuery
from dashboards.widgets import dashboard, thresholds, to_dict

BREAKDOWN: list[Column] = [
    ("name", "Name", "string"),
    ("warnings", "Warnings", "number"),
    ("clues", "Clues opened", "number"),
    ("previous_warnings", "Previous period", "number"),
    ("change_pct", "Change %", "number"),
]
SUBJECTS: list[Column] = [
    ("subject", "Subject (pseudonymised)", "string"),
    ("rule", "Rule", "string"),
    ("days", "Days back", "number"),
    ("warnings", "Warnings", "number"),
    ("last_day", "Last seen", "string"),
    ("regions", "Districts", "string"),
]
OVERDUE: list[Column] = [
    ("title", "Clue", "string"),
    ("rule", "Rule", "string"),
    ("severity", "Severity", "string"),
    ("department", "Department", "string"),
    ("region", "District", "string"),
    ("claimed_by", "Holder", "string"),
    ("overdue_days", "Days overdue", "number"),
    ("id", "id", "string"),
]
PRECISION: list[Column] = [
    ("rule", "Rule", "string"),
    ("closed", "Closed", "number"),
    ("confirmed", "Confirmed", "number"),
    ("dismissed", "Dismissed", "number"),
    ("precision", "Precision", "number"),
]


def _stat(
    title: str, unit: str, field: str, description: str, *, alarm_at: float | None = None
) -> stat_b.Panel:
    panel = (
        stat_b.Panel()
        .title(title)
        .description(description)
        .datasource(VIEWS)
        .unit(unit)
        .span(5 if alarm_at is None else 4)
        .height(4)
        .with_target(ViewQuery("/views/summary", [(field, title, "number")]))
        .graph_mode(common_m.BigValueGraphMode.NONE)
        .color_mode(common_m.BigValueColorMode.VALUE)
        .justify_mode(common_m.BigValueJustifyMode.AUTO)
        .text_mode(common_m.BigValueTextMode.AUTO)
        .wide_layout(True)
        .show_percent_change(False)
        .percent_change_color_mode(common_m.PercentChangeColorMode.STANDARD)
        .orientation(common_m.VizOrientation.AUTO)
        .reduce_options(common_b.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    )
    if alarm_at is not None:
        panel = panel.thresholds(thresholds((None, "green"), (alarm_at, "red")))
    return panel


def _table(
    title: str,
    query: ViewQuery,
    description: str,
    *,
    unit: str = "short",
    sort_by: str = "Warnings",
    w: int = 12,
) -> table_b.Panel:
    return (
        table_b.Panel()
        .title(title)
        .description(description)
        .datasource(VIEWS)
        .unit(unit)
        .span(w)
        .height(8)
        .with_target(query)
        .show_header(True)
        .sort_by([common_b.TableSortByFieldState().display_name(sort_by).desc(True)])
        .align(common_m.FieldTextAlignment.AUTO)
        .inspect(False)
    )


def _totals() -> dash_b.Row:
    return (
        dash_b.Row("This period against the previous one")
        .with_panel(_stat("Warnings", "short", "warnings", "Warnings dated in the time range."))
        .with_panel(
            _stat(
                "Change against the previous period",
                "percent",
                "warnings_change_pct",
                "Warnings in the range against the period of the same length just before "
                "(empty when that period had none).",
            )
        )
        .with_panel(_stat("Clues opened", "short", "clues", "Clues first warned in the range."))
        .with_panel(
            _stat(
                "Overdue clues now",
                "short",
                "red",
                "Clues past their deadline (red) right now, whatever the range.",
                alarm_at=1,
            )
        )
        .with_panel(
            _stat(
                "Precision",
                "percentunit",
                "precision",
                "Of the clues first warned in the range and closed since: confirmed / "
                "(confirmed + dismissed).",
            )
        )
    )


def _per_day() -> dash_b.Row:
    columns: Sequence[Column] = [
        ("time", "Day", "timestamp_epoch"),
        ("warnings", "Warnings", "number"),
        ("previous_warnings", "Previous period, same day", "number"),
    ]
    panel = (
        ts_b.Panel()
        .title("Warnings per day (event time)")
        .description(
            "Warnings per local day (UTC+8) of their own timestamps, and the same day of the "
            "previous period: a replayed month shows as the month it was."
        )
        .datasource(VIEWS)
        .unit("short")
        .span(24)
        .height(9)
        .with_target(ViewQuery("/views/daily", columns, timeseries=True))
        .draw_style(common_m.GraphDrawStyle.BARS)
        .fill_opacity(60)
        .line_width(1)
        .legend(
            common_b.VizLegendOptions()
            .display_mode(common_m.LegendDisplayMode.LIST)
            .placement(common_m.LegendPlacement.BOTTOM)
            .show_legend(True)
        )
        .tooltip(common_b.VizTooltipOptions().mode(common_m.TooltipDisplayMode.MULTI))
    )
    return dash_b.Row("Per day").with_panel(panel)


def _where() -> dash_b.Row:
    row = dash_b.Row("Where")
    for dim, title in (
        ("region", "district"),
        ("department", "department"),
        ("rule", "rule"),
        ("severity", "severity"),
    ):
        row = row.with_panel(
            _table(
                f"Warnings by {title}",
                ViewQuery(f"/views/by/{dim}", BREAKDOWN),
                f"Warnings and clues per {title} in the range, most first, with the previous "
                "period's warnings and the change.",
            )
        )
    return row


def _who() -> dash_b.Row:
    row = dash_b.Row("Who comes back")
    for kind, title in (("entities", "entities"), ("officials", "officials and staff accounts")):
        row = row.with_panel(
            _table(
                f"Recurring {title}",
                ViewQuery(f"/views/recurring/{kind}", SUBJECTS, params=[("limit", "20")]),
                f"The {title} warned on the most days of the range (personal identifiers "
                "pseudonymised).",
                sort_by="Days back",
            )
        )
    return row


def _act() -> dash_b.Row:
    # a click on a row opens its clue on the inspector page (the API's /ui#clue=ID)
    link = (
        dash_b.DashboardLink("Open on the inspector page")
        .type(dash_m.DashboardLinkType.LINK)
        .url("${api_url}/ui#clue=${__data.fields.id}")
        .target_blank(True)
    )
    overdue = _table(
        "Overdue clues (red)",
        ViewQuery("/views/overdue", OVERDUE, timed=False, params=[("limit", "100")]),
        "Clues past their deadline now, the longest overdue first; a click opens the clue on "
        "the inspector page.",
        sort_by="Days overdue",
        w=24,
    ).data_links([link])
    precision = _table(
        "Precision per rule",
        ViewQuery("/views/precision", PRECISION),
        "Clues first warned in the range and closed since, by verdict, per rule.",
        sort_by="Closed",
        w=24,
    )
    return dash_b.Row("Act now").with_panel(overdue).with_panel(precision)


def _api_url() -> dash_b.TextBoxVariable:
    """Where a browser reaches the clue API: the base of the links to the inspector page."""
    url = "http://localhost:8000"
    return (
        dash_b.TextBoxVariable("api_url")
        .label("Clue API (for links)")
        .default_value(url)
        .current(dash_m.VariableOption(selected=True, text=url, value=url))
    )


def _narrow(name: str, label: str) -> dash_b.TextBoxVariable:
    """A text box every view is narrowed by (empty: everything the token's scope covers)."""
    empty = dash_m.VariableOption(selected=True, text="", value="")
    return dash_b.TextBoxVariable(name).label(label).default_value("").current(empty)


def supervisor_view() -> dict[str, Any]:
    """Event-time risk views for supervisors, from the clue API."""
    board = (
        dashboard(
            "riskloop-supervisor",
            "riskloop / Supervisor (event time)",
            "Risks on the warnings' own event time: per day, district, department and rule "
            "against the previous period; who comes back; what is overdue; precision.",
        )
        .time("now-30d", "now")
        .refresh("1m")
        .with_variable(_narrow("region", "District (code prefix)"))
        .with_variable(_narrow("department", "Department"))
        .with_variable(_api_url())
        .with_row(_totals())
        .with_row(_per_day())
        .with_row(_where())
        .with_row(_who())
        .with_row(_act())
    )
    return to_dict(board)
