"""Factories for tests: events at literal times, no clock, and small rule files.

>>> make_event(ts_ms=1772414100000, type="data.access", account="stf-1").ts
'2026-03-02T09:15:00+08:00'
"""

from __future__ import annotations

from envelope.build import EventMaker
from envelope.time import iso

__all__ = ["iso", "make_event", "probe_rule"]

# One numbering for the whole test session: ids stay unique across the tests of a run.
make_event = EventMaker()


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
