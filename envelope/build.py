"""Build events from a few keywords: for rule unit tests, examples and the simulator's peers.

:func:`event_at` needs every identity spelled out (its ``id``): a rule test file names or
numbers its inputs itself. :class:`EventMaker` numbers the ids it makes (``evt-1``, ``evt-2``
…) per maker, so two examples or two test files never depend on each other's counts.

>>> make_event = EventMaker()
>>> ev = make_event(ts_ms=1772414100000, type="data.access", account="stf-1")
>>> ev.id, ev.ts, ev.attrs
('evt-1', '2026-03-02T09:15:00+08:00', {'account': 'stf-1'})
>>> make_event(ts_ms=1772414100000).id
'evt-2'
"""

from __future__ import annotations

from itertools import count
from typing import Any

from envelope.events import Event
from envelope.time import iso


def event_at(
    *,
    ts_ms: int,
    id: str,
    type: str = "application.submitted",
    stream: str = "service",
    region: str = "330106",
    department: str = "market-supervision",
    entity: tuple[str, str] = ("citizen", "cit-1"),
    source: str = "test",
    **attrs: Any,
) -> Event:
    """One valid event at ``ts_ms``; raises :class:`~envelope.events.InvalidEvent` if not."""
    return Event.from_dict(
        {
            "id": id,
            "type": type,
            "stream": stream,
            "ts": iso(ts_ms),
            "source": source,
            "region": region,
            "department": department,
            "entity": {"kind": entity[0], "id": entity[1]},
            "attrs": attrs,
        }
    )


class EventMaker:
    """``event_at`` with ids numbered per maker when none is given."""

    def __init__(self, prefix: str = "evt-") -> None:
        self._prefix = prefix
        self._ids = count(1)

    def __call__(self, *, ts_ms: int, id: str | None = None, **fields: Any) -> Event:
        return event_at(ts_ms=ts_ms, id=id or f"{self._prefix}{next(self._ids)}", **fields)
