"""Factories for tests and rule unit tests: events at literal times, no clock.

>>> make_event(ts_ms=1772414100000, type="data.access", account="stf-1").ts
'2026-03-02T09:15:00+08:00'
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from itertools import count
from typing import Any

from riskloop.events import Event

CST = timezone(timedelta(hours=8))
_ids = count(1)


def iso(ts_ms: int) -> str:
    """Epoch ms -> ISO 8601 in UTC+8 (China Standard Time)."""
    return datetime.fromtimestamp(ts_ms / 1000, UTC).astimezone(CST).isoformat()


def make_event(
    *,
    ts_ms: int,
    type: str = "application.submitted",
    stream: str = "service",
    region: str = "330106",
    department: str = "market-supervision",
    entity: tuple[str, str] = ("citizen", "cit-1"),
    id: str | None = None,
    **attrs: Any,
) -> Event:
    return Event.from_dict(
        {
            "id": id or f"evt-{next(_ids)}",
            "type": type,
            "stream": stream,
            "ts": iso(ts_ms),
            "source": "test",
            "region": region,
            "department": department,
            "entity": {"kind": entity[0], "id": entity[1]},
            "attrs": attrs,
        }
    )


def probe_rule(rule_id: str, window: str = "1h", gte: int = 1) -> str:
    """A tiny threshold rule file for reload tests: fires on ``probe.event`` per region.
    ``window`` may be made invalid on purpose (its error is at line 6, column 1).

    >>> probe_rule("p").splitlines()[0]
    'id: p'
    """
    return (
        f"id: {rule_id}\n"
        "title: probe\n"
        "type: threshold\n"
        "match: {type: probe.event}\n"
        "group_by: [region]\n"
        f"window: {window}\n"
        f"condition: {{gte: {gte}}}\n"
    )
