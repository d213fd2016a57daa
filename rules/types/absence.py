"""``absence`` (deadline mode): an anchor event opens an obligation per key; a fulfilling
or cancelling event must follow before the deadline, or the rule fires.

The deadline is a fixed duration (``after``), a number of units read from the anchor
(``field`` + ``unit``, where ``workday`` counts China's working days), an absolute time
read from the anchor (``at_field``) or a number of working days (``workdays``). Stages
fire at shares of the time from anchor to deadline (``80%`` "due soon", ``100%``
"overdue"; default: one ``overdue`` stage at 100 %), each once, when the watermark
passes it. Shares are of elapsed time; for a working-day deadline, of the working days
(80 % of 5 working days is the 4th working day after the anchor, at its clock time).

A closing event later than a stage does not undo it: the stage fires (with the same id
it would have had from the watermark) before the obligation closes. ``paused_by`` stops
the clock and ``resumed_by`` restarts it: the deadline moves by the paused time (by the
working days paused for working-day deadlines). With ``resolve: {on: fulfilled}`` a
fulfilment after a fired stage emits a ``resolved`` warning.

Examples:
    >>> from rules import RuleSet
    >>> from rules.engine.engine import Engine
    >>> from rules.language.model import parse_rule
    >>> from envelope.build import EventMaker
    >>> make_event = EventMaker()
    >>> from envelope.time import iso
    >>> rule = parse_rule('''
    ... id: rectify
    ... title: finding not rectified in 5 working days
    ... type: absence
    ... group_by: [attrs.inspection_id]
    ... anchor: {type: inspection.performed, attrs.result: finding}
    ... fulfilled_by: {type: inspection.rectified}
    ... deadline: {workdays: 5}
    ... stages:
    ...   - {at: 80%, name: due-soon, severity: medium}
    ...   - {at: 100%, name: overdue, severity: high}
    ... ''', "r.yaml")
    >>> eng = Engine(RuleSet([rule]), lateness_ms=0)
    >>> T0 = 1770944400000  # Fri 2026-02-13 09:00, just before the Spring Festival break
    >>> eng.process(make_event(ts_ms=T0, type="inspection.performed", inspection_id="I1",
    ...     result="finding"))
    []
    >>> for w in eng.advance_to(T0 + 20 * 86_400_000):
    ...     print(w.stage, w.severity, iso(w.ts_ms))
    due-soon medium 2026-02-26T09:00:00+08:00
    overdue high 2026-02-27T09:00:00+08:00
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from envelope.calendar import add_working_days, working_days_between
from envelope.events import Event, InvalidEvent, parse_ts_ms
from envelope.paths import getter
from rules.engine.timers import Timers
from rules.language.model import Rule
from rules.language.specs import AbsenceSpec, Deadline
from rules.matching.selection import Selection
from rules.types.common import Hit, RuleState, capture_function, key_function

UNIT_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


@dataclass(slots=True)
class Obligation:
    anchor_ms: int
    start_ms: int
    deadline_ms: int
    anchor_id: str
    ctx: dict[str, Any]
    next_stage: int = 0
    paused_at: int | None = None
    gen: int = 0
    level: str | None = None


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
    return ts_ms + int(amount * UNIT_MS[d.unit])


class AbsenceEvaluator:
    def __init__(self, rule: Rule, timers: Timers) -> None:
        spec = rule.spec
        assert isinstance(spec, AbsenceSpec)
        self.rule, self.spec, self.timers = rule, spec, timers
        self.key_of = key_function(rule)
        self.capture = capture_function(rule)
        d = spec.deadline
        source = d.field or d.at_field
        self.deadline_field = getter(source) if source else None
        self.workdays = d.workdays is not None or d.unit == "workday"
        self.resolve = rule.resolve is not None
        self.keep_ms = rule.resolve.keep_ms if rule.resolve else 0

    def selections(self) -> list[Selection]:
        s = self.spec
        return [
            x for x in (s.anchor, s.fulfilled_by, s.cancelled_by, s.paused_by, s.resumed_by) if x
        ]

    def stage_ms(self, ob: Obligation, i: int) -> int:
        """When stage ``i`` is due: its share of the time from start to deadline; for a
        working-day deadline, its share of the working days (80 % of 5 working days is the
        4th working day, at the anchor's clock time, weekends and holidays not counted)."""
        at = self.spec.stages[i].at
        if at >= 1.0:
            return ob.deadline_ms
        if self.workdays:
            days = working_days_between(ob.start_ms, ob.deadline_ms)
            whole, part = divmod(at * days, 1.0)
            t0 = add_working_days(ob.start_ms, int(whole))
            if part:
                t0 += round(part * (add_working_days(ob.start_ms, int(whole) + 1) - t0))
            return min(t0, ob.deadline_ms)
        return ob.start_ms + round(at * (ob.deadline_ms - ob.start_ms))

    def on_event(self, ev: Event, st: RuleState) -> list[Hit] | None:
        s = self.spec
        if s.anchor.fast(ev):
            self._anchor(ev, st)
            return None
        key = self.key_of(ev)
        ob = st.keys.get(key) if key is not None else None
        if ob is None or key is None:
            return None
        closing = [x for x in (s.fulfilled_by, s.cancelled_by) if x is not None and x.fast(ev)]
        if closing:
            return self._close(key, ob, ev, st, fulfilled=closing[0] is s.fulfilled_by)
        if s.paused_by is not None and s.paused_by.fast(ev) and ob.paused_at is None:
            hits = self._fire_until(key, ob, ev.ts_ms - 1, ev.id)
            ob.paused_at, ob.gen = ev.ts_ms, ob.gen + 1
            st.put(key, ob)
            return hits
        if s.resumed_by is not None and s.resumed_by.fast(ev) and ob.paused_at is not None:
            self._resume(key, ob, ev.ts_ms)
            st.put(key, ob)
        return None

    def _anchor(self, ev: Event, st: RuleState) -> None:
        key = self.key_of(ev)
        if key is None or key in st.keys:
            return
        value = self.deadline_field(ev) if self.deadline_field else None
        deadline = deadline_of(self.spec.deadline, ev.ts_ms, value)
        if deadline is None:
            return
        ob = Obligation(ev.ts_ms, ev.ts_ms, max(deadline, ev.ts_ms), ev.id, self.capture(ev))
        st.put(key, ob)
        self.timers.push(self.stage_ms(ob, 0), (key, ob.gen))

    def _close(
        self, key: str, ob: Obligation, ev: Event, st: RuleState, fulfilled: bool
    ) -> list[Hit]:
        hits = [] if ob.paused_at is not None else self._fire_until(key, ob, ev.ts_ms - 1, ev.id)
        if fulfilled and self.resolve and ob.next_stage > 0:
            hits.append(
                Hit(
                    key,
                    ev.ts_ms,
                    "resolved",
                    ob.anchor_ms,
                    ob.ctx,
                    (ev.ts_ms - ob.anchor_ms) / 1000.0,
                    (ob.anchor_ms, ob.deadline_ms),
                    (ob.anchor_id, ev.id),
                    severity=ob.level,
                )
            )
        st.drop(key)
        return hits

    def _resume(self, key: str, ob: Obligation, ts_ms: int) -> None:
        assert ob.paused_at is not None
        if self.workdays:
            paused = working_days_between(ob.paused_at, ts_ms)
            shift = add_working_days(ob.deadline_ms, paused) - ob.deadline_ms
        else:
            shift = ts_ms - ob.paused_at
        ob.start_ms += shift
        ob.deadline_ms += shift
        ob.paused_at, ob.gen = None, ob.gen + 1
        if ob.next_stage < len(self.spec.stages):
            self.timers.push(max(self.stage_ms(ob, ob.next_stage), ts_ms), (key, ob.gen))

    def _fire_until(self, key: str, ob: Obligation, until_ms: int, *more: str) -> list[Hit]:
        hits = []
        stages = self.spec.stages
        while ob.next_stage < len(stages) and self.stage_ms(ob, ob.next_stage) <= until_ms:
            stage = stages[ob.next_stage]
            at = self.stage_ms(ob, ob.next_stage)
            ob.level = stage.severity or self.rule.severity
            hits.append(
                Hit(
                    key,
                    at,
                    stage.name,
                    ob.anchor_ms,
                    ob.ctx,
                    (at - ob.anchor_ms) / 1000.0,
                    (ob.anchor_ms, ob.deadline_ms),
                    (ob.anchor_id, *more),
                    severity=ob.level,
                )
            )
            ob.next_stage += 1
        return hits

    def on_watermark(self, wm_ms: int, st: RuleState) -> list[Hit] | None:
        hits: list[Hit] = []
        for key, gen in self.timers.pop_due(wm_ms):
            ob = st.keys.get(key)
            if ob is None or ob.gen != gen or ob.paused_at is not None:
                continue
            if ob.next_stage >= len(self.spec.stages):
                st.drop(key)  # kept for its resolution long enough
                continue
            hits.extend(self._fire_until(key, ob, wm_ms))
            st.put(key, ob)
            if ob.next_stage < len(self.spec.stages):
                self.timers.push(self.stage_ms(ob, ob.next_stage), (key, ob.gen))
            elif self.resolve:
                self.timers.push(ob.deadline_ms + self.keep_ms, (key, ob.gen))
            else:
                st.drop(key)
        return hits

    def rebuild(self, st: RuleState) -> None:
        entries = []
        for key, ob in st.keys.items():
            if ob.paused_at is not None:
                continue
            if ob.next_stage < len(self.spec.stages):
                entries.append((self.stage_ms(ob, ob.next_stage), (key, ob.gen)))
            else:
                entries.append((ob.deadline_ms + self.keep_ms, (key, ob.gen)))
        self.timers.reset(entries)

    def describe(self, key: str, st: RuleState) -> dict[str, Any]:
        ob = st.keys.get(key)
        if ob is None:
            return {"key": key, "open": False}
        stages = self.spec.stages
        return {
            "key": key,
            "open": True,
            "anchor_ms": ob.anchor_ms,
            "deadline_ms": ob.deadline_ms,
            "paused": ob.paused_at is not None,
            "stages_fired": [s.name for s in stages[: ob.next_stage]],
            "next_stage": stages[ob.next_stage].name if ob.next_stage < len(stages) else None,
        }
