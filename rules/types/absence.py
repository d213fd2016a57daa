"""``absence`` (deadline mode): an anchor event opens an obligation per key; a fulfilling
or cancelling event must follow before the deadline, or the rule fires.

The deadline is a fixed duration (``after``), a number of units read from the anchor
(``field`` + ``unit``, where ``workday`` counts China's working days), an absolute time
read from the anchor (``at_field``) or a number of working days (``workdays``). Stages
fire at shares of the time from anchor to deadline (``80%`` "due soon", ``100%``
"overdue"; default: one ``overdue`` stage at 100 %), each once, when the watermark
passes it. Shares are of elapsed time; for a working-day deadline, of the working days
(80 % of 5 working days is the 4th working day after the anchor, at its clock time):
:mod:`rules.types.absence_deadlines`. With a ``heartbeat`` block instead of a deadline
the rule is a heartbeat (:mod:`rules.types.heartbeat`).

A closing event later than a stage does not undo it: the stage fires (with the same id
it would have had from the watermark) before the obligation closes. ``paused_by`` stops
the clock and ``resumed_by`` restarts it: the deadline moves by the paused time (by the
working days paused for working-day deadlines). With ``resolve: {on: fulfilled}`` a
fulfilment after a fired stage emits a ``resolved`` warning, dated at the fulfilling
event's time, or at the fired stage's time if the fulfilment is older (it arrived late).

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

from envelope.events import Event
from envelope.paths import getter
from rules.engine.timers import Timers
from rules.language.fields import Field, Many, Reader
from rules.language.model import Rule
from rules.language.valuekinds import SelectionKind
from rules.matching.selection import Selection
from rules.types.absence_deadlines import (
    DEADLINE,
    STAGE,
    Deadline,
    Stage,
    check_stages,
    deadline_of,
    pause_shift,
    stage_time,
)
from rules.types.common import Hit, RuleState, capture_function, key_function, restore_fields
from rules.types.heartbeat import HEARTBEAT, HeartbeatSpec
from rules.types.heartbeat import VARIANT as HEARTBEAT_VARIANT
from rules.types.registry import RuleType, Variant


@dataclass(frozen=True, slots=True)
class AbsenceSpec:
    anchor: Selection
    fulfilled_by: Selection | None
    cancelled_by: Selection | None
    paused_by: Selection | None
    resumed_by: Selection | None
    deadline: Deadline
    stages: tuple[Stage, ...]

    @property
    def after_ms(self) -> int | None:
        return self.deadline.after_ms


FIELDS = (
    Field("anchor", SelectionKind(), doc="events that open an obligation"),
    Field("deadline", DEADLINE),
    Field("fulfilled_by", SelectionKind(), doc="events that meet the obligation"),
    Field("cancelled_by", SelectionKind(), doc="events that end it without a warning"),
    Field("paused_by", SelectionKind(), doc="events that stop the clock"),
    Field("resumed_by", SelectionKind(), doc="events that restart it"),
    Field("stages", Many(STAGE, single_ok=False), doc="warnings at shares of the deadline"),
    Field("heartbeat", HEARTBEAT, doc="instead of a deadline: expect a beat per key"),
)
# the keys of deadline mode, which a heartbeat rule must not have
DEADLINE_KEYS = (
    "anchor",
    "deadline",
    "fulfilled_by",
    "cancelled_by",
    "paused_by",
    "resumed_by",
    "stages",
)


def build(v: dict[str, Any], r: Reader) -> AbsenceSpec | HeartbeatSpec:
    """A deadline rule, or with ``heartbeat`` a heartbeat rule (never both)."""
    if v["heartbeat"] is not None:
        clash = [k for k in DEADLINE_KEYS if v[k] is not None]
        if clash:
            raise r.fail(
                clash[0],
                f"'{clash[0]}' belongs to a deadline rule, not a heartbeat: use one or the other",
            )
        spec: HeartbeatSpec = v["heartbeat"]
        return spec
    for key in ("anchor", "deadline"):
        if v[key] is None:
            raise r.fail(None, f"an absence rule needs '{key}' (or a 'heartbeat' block)")
    if (v["paused_by"] is None) != (v["resumed_by"] is None):
        raise r.fail(
            "paused_by" if v["paused_by"] else "resumed_by",
            "'paused_by' and 'resumed_by' go together",
        )
    stages = tuple(v["stages"] or (Stage(1.0, "overdue"),))
    check_stages(stages, r)
    return AbsenceSpec(
        v["anchor"],
        v["fulfilled_by"],
        v["cancelled_by"],
        v["paused_by"],
        v["resumed_by"],
        v["deadline"],
        stages,
    )


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
    fired_ms: int = 0  # when the latest stage fired: a resolution is never dated before it

    def __setstate__(self, state: tuple[Any, dict[str, Any]]) -> None:
        restore_fields(self, state)  # a checkpoint from before ``fired_ms`` still loads


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
        """When stage ``i`` is due (:func:`rules.types.absence_deadlines.stage_time`)."""
        return stage_time(self.spec.stages[i].at, ob.start_ms, ob.deadline_ms, self.workdays)

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
            # a fulfilment that arrives late (within the lateness) after its stage fired
            # resolves at that stage's time, never before the warning it closes
            at = max(ev.ts_ms, ob.fired_ms)
            hits.append(
                Hit(
                    key,
                    at,
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
        shift = pause_shift(ob.deadline_ms, ob.paused_at, ts_ms, self.workdays)
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
            ob.fired_ms = at
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


TYPE = RuleType(
    "absence",
    FIELDS,
    build,
    (Variant(AbsenceSpec, AbsenceEvaluator, "fulfilled"), HEARTBEAT_VARIANT),
    needs_match=False,
)
