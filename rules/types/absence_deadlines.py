"""The deadline and the stages of an ``absence`` rule (deadline mode): their specs, their
blocks in a rule file, and the time arithmetic, including China's working days.

A deadline is a fixed duration (``after``), a number of units read from the anchor
(``field`` + ``unit``, where ``workday`` counts working days), an absolute time read
from the anchor (``at_field``) or a number of working days (``workdays``). A stage is a
share of the time from anchor to deadline; for a working-day deadline, of the working
days.

Examples:
    >>> stage_time(0.5, 0, 10_000, workdays=False)
    5000
    >>> T0 = 1770944400000  # Fri 2026-02-13 09:00, just before the Spring Festival break
    >>> from envelope.time import iso
    >>> iso(stage_time(0.8, T0, add_working_days(T0, 5), workdays=True))
    '2026-02-26T09:00:00+08:00'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from envelope.calendar import add_working_days, working_days_between
from envelope.events import InvalidEvent, parse_ts_ms
from envelope.time import UNITS_MS
from rules.language.blocks import SEVERITIES
from rules.language.fields import Block, Choice, Duration, Field, Number, Path, Reader, Text
from rules.language.valuekinds import Percent


@dataclass(frozen=True, slots=True)
class Deadline:
    """One of: a fixed duration, a number of ``unit`` s from a field, an absolute time in a
    field, or a number of working days (fixed or from a field)."""

    after_ms: int | None = None
    field: str | None = None
    unit: str = "d"
    at_field: str | None = None
    workdays: int | None = None


@dataclass(frozen=True, slots=True)
class Stage:
    at: float
    name: str
    severity: str | None = None


def _deadline(v: dict[str, Any], r: Reader) -> Deadline:
    given = [k for k in ("after", "field", "at_field", "workdays") if v[k] is not None]
    if len(given) != 1:
        raise r.fail(
            None,
            "deadline needs exactly one of 'after: 5d', 'field: attrs.days' "
            "(with 'unit'), 'at_field: attrs.due_at' or 'workdays: 20'",
        )
    if v["unit"] != "d" and v["field"] is None:
        raise r.fail("unit", "'unit' goes with 'field': it is the unit of the field's number")
    return Deadline(v["after"], v["field"], v["unit"], v["at_field"], v["workdays"])


DEADLINE = Block(
    "deadline",
    (
        Field("after", Duration(), doc="a fixed time after the anchor, like '20d'"),
        Field("field", Path(), doc="a field holding a number of 'unit's after the anchor"),
        Field(
            "unit",
            Choice(("s", "m", "h", "d", "w", "workday")),
            default="d",
            doc="unit of 'field': workday counts China's working days",
        ),
        Field("at_field", Path(), doc="a field holding the deadline itself (ISO 8601 or epoch ms)"),
        Field(
            "workdays",
            Number(1, 3650, integer=True),
            doc="working days after the anchor (China's calendar)",
        ),
    ),
    _deadline,
)
STAGE = Block(
    "stage",
    (
        Field("at", Percent(), required=True, doc="share of the deadline, like '80%'"),
        Field("name", Text(r"^[a-z][a-z0-9_-]*$", "a lowercase name like due-soon"), required=True),
        Field("severity", Choice(SEVERITIES), doc="severity of this stage (default: the rule's)"),
    ),
    lambda v, r: Stage(v["at"], v["name"], v["severity"]),
)


def check_stages(stages: tuple[Stage, ...], r: Reader) -> None:
    """Stages rise in ``at``, each at its own share and with its own name."""
    if list(stages) != sorted(stages, key=lambda s: s.at) or len({s.at for s in stages}) < len(
        stages
    ):
        raise r.fail("stages", "stages must be in rising order of 'at', each at its own share")
    if len({s.name for s in stages}) < len(stages):
        raise r.fail("stages", "each stage needs its own name")


def deadline_of(d: Deadline, ts_ms: int, value: Any) -> int | None:
    """The deadline of an obligation anchored at ``ts_ms`` (``value``: the anchor's field).

    >>> deadline_of(Deadline(after_ms=3_600_000), 0, None)
    3600000
    >>> deadline_of(Deadline(field="attrs.days", unit="h"), 0, "2")
    7200000
    >>> deadline_of(Deadline(field="attrs.days"), 0, "soon") is None
    True
    """
    if d.after_ms is not None:
        return ts_ms + d.after_ms
    if d.workdays is not None:
        return add_working_days(ts_ms, d.workdays)
    if d.at_field is not None:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return int(value)
        try:
            return parse_ts_ms(value)
        except InvalidEvent:
            return None
    try:
        amount = float(value)
    except (TypeError, ValueError):
        return None
    if not amount > 0 or amount > 1e6:
        return None
    if d.unit == "workday":
        return add_working_days(ts_ms, int(amount)) if amount == int(amount) else None
    return ts_ms + int(amount * UNITS_MS[d.unit])


def stage_time(at: float, start_ms: int, deadline_ms: int, workdays: bool) -> int:
    """When a stage at share ``at`` is due: its share of the time from start to deadline;
    for a working-day deadline, its share of the working days (80 % of 5 working days is
    the 4th working day, at the start's clock time, weekends and holidays not counted)."""
    if at >= 1.0:
        return deadline_ms
    if workdays:
        days = working_days_between(start_ms, deadline_ms)
        whole, part = divmod(at * days, 1.0)
        t0 = add_working_days(start_ms, int(whole))
        if part:
            t0 += round(part * (add_working_days(start_ms, int(whole) + 1) - t0))
        return min(t0, deadline_ms)
    return start_ms + round(at * (deadline_ms - start_ms))


def pause_shift(deadline_ms: int, paused_ms: int, resumed_ms: int, workdays: bool) -> int:
    """How far a pause from ``paused_ms`` to ``resumed_ms`` moves the deadline: the paused
    time, or for a working-day deadline the working days paused.

    >>> pause_shift(10_000, 1_000, 3_000, workdays=False)
    2000
    """
    if workdays:
        paused = working_days_between(paused_ms, resumed_ms)
        return add_working_days(deadline_ms, paused) - deadline_ms
    return resumed_ms - paused_ms
