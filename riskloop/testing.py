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
