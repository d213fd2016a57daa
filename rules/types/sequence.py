"""``sequence``: ordered ``steps`` per key within ``within`` (from the first step's event to
the last); an event matching a ``not_between`` entry breaks every unfinished sequence of its
key that had begun by its event time (one dated earlier, arriving late, does not). Steps
match in arrival order, each at or after the previous step's time (relaxed contiguity: other
events may come between). After a complete sequence the key starts afresh (skip past the
last event).

At most one partial sequence per number of steps matched is kept per key: the one that
started last, which has the most time left.

Examples:
    >>> from rules import RuleSet
    >>> from rules.engine.engine import Engine
    >>> from rules.language.model import parse_rule
    >>> from envelope.build import EventMaker
    >>> make_event = EventMaker()
    >>> rule = parse_rule('''
    ... id: dereg-after-finding
    ... title: deregistration right after an inspection finding
    ... type: sequence
    ... group_by: [entity.id]
    ... within: 15d
    ... steps:
    ...   - {name: finding, match: {type: inspection.performed, attrs.result: finding}}
    ...   - {name: dereg, match: {type: enterprise.deregistration_applied}}
    ... not_between:
    ...   - match: {type: inspection.rectified}
    ... ''', "r.yaml")
    >>> eng = Engine(RuleSet([rule]), lateness_ms=0)
    >>> T0, DAY = 1772414100000, 86_400_000
    >>> def ev(day, type, **attrs):
    ...     return make_event(ts_ms=T0 + day * DAY, type=type, entity=("enterprise", "E1"), **attrs)
    >>> eng.process(ev(0, "inspection.performed", result="finding"))
    []
    >>> [(w.key, w.value) for w in eng.process(ev(3, "enterprise.deregistration_applied"))]
    [('E1', 259200.0)]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from envelope.events import Event
from rules.engine.timers import INF, Timers
from rules.language.fields import Block, Duration, Field, Many, Reader, Text
from rules.language.model import Rule
from rules.language.valuekinds import ExprKind, SelectionKind
from rules.matching.expr_compile import Expr
from rules.matching.selection import Selection
from rules.types.common import Hit, RuleState, capture_function, key_function
from rules.types.registry import RuleType, Variant


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    match: Selection
    where: Expr | None

    def matches(self, event: Any) -> bool:
        return self.match.matches(event) and (self.where is None or self.where.holds(event))


@dataclass(frozen=True, slots=True)
class SequenceSpec:
    within_ms: int
    steps: tuple[Step, ...]
    not_between: tuple[Step, ...]


STEP_FIELDS = (
    Field("name", Text(r"^[a-z][a-z0-9_-]*$", "a lowercase name"), required=True),
    Field("match", SelectionKind(), required=True, doc="events of this step"),
    Field("where", ExprKind(), doc="an extra condition on the step's events"),
)
STEP = Block("step", STEP_FIELDS, lambda v, r: Step(v["name"], v["match"], v["where"]))
NEG = Block("not_between", STEP_FIELDS[1:], lambda v, r: Step("not", v["match"], v["where"]))
FIELDS = (
    Field("within", Duration(), required=True, doc="the whole sequence must fit in this span"),
    Field("steps", Many(STEP, min_items=2, single_ok=False), required=True),
    Field(
        "not_between",
        Many(NEG, single_ok=False),
        doc="events that break an unfinished sequence",
    ),
)


def build(v: dict[str, Any], r: Reader) -> SequenceSpec:
    return SequenceSpec(v["within"], v["steps"], v["not_between"] or ())


@dataclass(slots=True)
class Partials:
    """Per key: steps matched -> (start_ms, last_ms, event ids)."""

    by_level: dict[int, tuple[int, int, tuple[str, ...]]] = field(default_factory=dict)
    due: int = INF


class SequenceEvaluator:
    def __init__(self, rule: Rule, timers: Timers) -> None:
        spec = rule.spec
        assert isinstance(spec, SequenceSpec)
        self.rule, self.spec, self.timers = rule, spec, timers
        self.key_of = key_function(rule)
        self.capture = capture_function(rule)

    def selections(self) -> list[Selection]:
        return [s.match for s in (*self.spec.steps, *self.spec.not_between)]

    def on_event(self, ev: Event, st: RuleState) -> list[Hit] | None:  # noqa: C901 hot path, kept in one piece
        key = self.key_of(ev)
        if key is None:
            return None
        parts: Partials | None = st.keys.get(key)
        if parts is not None and any(s.matches(ev) for s in self.spec.not_between):
            # by event time: it breaks what had begun by then, not a sequence begun later
            # (a rectification dated before the finding, arriving late, breaks nothing)
            later = {k: v for k, v in parts.by_level.items() if v[0] > ev.ts_ms}
            if not later:
                st.drop(key)
                return None
            parts.by_level = later
            st.put(key, parts)
            self._schedule(key, parts)
            return None
        steps, within = self.spec.steps, self.spec.within_ms
        found: dict[int, tuple[int, int, tuple[str, ...]]] = {}
        if parts is not None:
            for level, (start, last, ids) in sorted(parts.by_level.items(), reverse=True):
                if ev.ts_ms >= last and ev.ts_ms - start <= within and steps[level].matches(ev):
                    if level + 1 == len(steps):
                        return self._complete(key, start, (*ids, ev.id), ev, st)
                    found[level + 1] = (start, ev.ts_ms, (*ids, ev.id))
        if steps[0].matches(ev):
            found[1] = (ev.ts_ms, ev.ts_ms, (ev.id,))
        if not found:
            return None
        if parts is None:
            parts = Partials()
        for level, partial in found.items():
            kept = parts.by_level.get(level)
            if kept is None or partial[0] >= kept[0]:
                parts.by_level[level] = partial
        st.put(key, parts)
        self._schedule(key, parts)
        return None

    def _complete(
        self, key: str, start: int, ids: tuple[str, ...], ev: Event, st: RuleState
    ) -> list[Hit]:
        st.drop(key)
        return [
            Hit(
                key,
                ev.ts_ms,
                "fired",
                start,
                self.capture(ev),
                (ev.ts_ms - start) / 1000.0,
                (start, ev.ts_ms),
                ids,
            )
        ]

    def _schedule(self, key: str, parts: Partials) -> None:
        due = min(start for start, _, _ in parts.by_level.values()) + self.spec.within_ms + 1
        if due != parts.due:
            parts.due = due
            self.timers.push(due, key)

    def on_watermark(self, wm_ms: int, st: RuleState) -> list[Hit] | None:
        """Drop partial sequences that can no longer finish in time."""
        while (item := self.timers.pop_one(wm_ms)) is not None:
            due, key = item
            parts = st.keys.get(key)
            if parts is None or parts.due != due:
                continue
            horizon = wm_ms - self.spec.within_ms
            parts.by_level = {k: v for k, v in parts.by_level.items() if v[0] >= horizon}
            parts.due = INF
            if parts.by_level:
                st.put(key, parts)
                self._schedule(key, parts)
            else:
                st.drop(key)
        return None

    def rebuild(self, st: RuleState) -> None:
        self.timers.reset((p.due, k) for k, p in st.keys.items() if p.due < INF)

    def describe(self, key: str, st: RuleState) -> dict[str, Any]:
        parts = st.keys.get(key)
        names = [s.name for s in self.spec.steps]
        if parts is None:
            return {"key": key, "partial": []}
        return {
            "key": key,
            "partial": [
                {"matched": names[:level], "start_ms": start, "last_ms": last}
                for level, (start, last, _) in sorted(parts.by_level.items())
            ],
        }


TYPE = RuleType(
    "sequence", FIELDS, build, (Variant(SequenceSpec, SequenceEvaluator),), needs_match=False
)
