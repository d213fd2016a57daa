"""Targets on the Infinity data source (``yesoreyeram-infinity-datasource``, provisioned as
``riskloop-views``): a JSON endpoint of the clue API under ``/views/…`` and the columns a
panel takes from its rows.

The data source's URL is the API (``http://api:8000`` in docker-compose) and it sends the
supervisor token as ``Authorization``; a target names only the path and its parameters, so
the same dashboard works against any API the data source points at. The time range goes
in as ``${__from}`` and ``${__to}`` (epoch ms), which the API reads as local days, and the
dashboard's ``$region`` and ``$department`` text boxes narrow every view (empty: all).

>>> t = ViewQuery("/views/by/region", [("name", "District", "string")]).build().to_json()
>>> t["url"], t["url_options"]["params"][0], t["columns"][0]["selector"]
('/views/by/region', {'key': 'from', 'value': '${__from}'}, 'name')
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import dashboard as dash_m

VIEWS_UID = "riskloop-views"
VIEWS_TYPE = "yesoreyeram-infinity-datasource"
VIEWS = dash_m.DataSourceRef(type_val=VIEWS_TYPE, uid=VIEWS_UID)
TIME_RANGE = (("from", "${__from}"), ("to", "${__to}"))
# the dashboard's text boxes: a district code prefix and a department (empty: all in scope)
NARROW = (("region", "${region}"), ("department", "${department}"))
# (selector in the row, column title, Infinity type: string | number | timestamp_epoch)
Column = tuple[str, str, str]


class Target(cogvariants.Dataquery):
    """An Infinity target as Grafana stores it in the dashboard JSON."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body

    def to_json(self) -> dict[str, Any]:
        return self.body


class ViewQuery(cogbuilder.Builder[cogvariants.Dataquery]):
    """GET ``path`` on the views API as a table (``timeseries=True``: a time series)."""

    def __init__(
        self,
        path: str,
        columns: Sequence[Column],
        *,
        params: Sequence[tuple[str, str]] = (),
        timed: bool = True,
        timeseries: bool = False,
    ) -> None:
        self.path, self.columns = path, list(columns)
        self.params = [*(TIME_RANGE if timed else ()), *NARROW, *params]
        self.timeseries = timeseries

    def build(self) -> Target:
        return Target(
            {
                "datasource": {"type": VIEWS_TYPE, "uid": VIEWS_UID},
                "type": "json",
                "source": "url",
                "parser": "backend",
                "format": "timeseries" if self.timeseries else "table",
                "url": self.path,
                "url_options": {
                    "method": "GET",
                    "params": [{"key": k, "value": v} for k, v in self.params],
                },
                "root_selector": "",
                "columns": [
                    {"selector": s, "text": text, "type": kind} for s, text, kind in self.columns
                ],
                "filters": [],
            }
        )
