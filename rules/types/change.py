"""``change``: the tracked value (``fields``) of a key differs from the last one seen
within ``within``. Events that arrive out of order never replace a newer value.

Examples:
    >>> from rules import RuleSet
    >>> from rules.engine.engine import Engine
    >>> from rules.language.model import parse_rule
    >>> from envelope.build import EventMaker
    >>> make_event = EventMaker()
    >>> rule = parse_rule('''
    ... id: legal-rep-change
    ... title: an enterprise changed its legal representative
    ... type: change
    ... match: {type: enterprise.registration_updated}
    ... group_by: [entity.id]
    ... fields: [attrs.legal_rep]
    ... within: 365d
    ... output: {title: "{key}: legal representative {previous} -> {attrs.legal_rep}"}
    ... ''', "r.yaml")
    >>> eng = Engine(RuleSet([rule]), lateness_ms=0)
    >>> T0 = 1772414100000
    >>> [w.title for i, rep in enumerate(["p-1", "p-1", "p-2"])
    ...  for w in eng.process(make_event(ts_ms=T0 + i * 86_400_000, entity=("enterprise", "E1"),
    ...                       type="enterprise.registration_updated", legal_rep=rep))]
    ['E1: legal representative p-1 -> p-2']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from envelope.events import Event
from envelope.paths import getter
from rules.engine.timers import Timers
from rules.language.fields import Duration, Field, Flag, Many, Path, Reader
from rules.language.model import Rule
from rules.matching.selection import Selection
from rules.types.common import Hit, RuleState, capture_function, key_function
from rules.types.registry import RuleType, Variant


@dataclass(frozen=True, slots=True)
class ChangeSpec:
    fields: tuple[str, ...]
    within_ms: int
    ignore_null: bool


FIELDS = (
    Field("fields", Many(Path()), required=True, doc="the tracked value (or combination)"),
    Field("within", Duration(), required=True, doc="forget the last value after this long"),
    Field("ignore_null", Flag(), default=True),
)


def build(v: dict[str, Any], r: Reader) -> ChangeSpec:
    return ChangeSpec(v["fields"], v["within"], v["ignore_null"])


@dataclass(slots=True)
class Last:
    value: str
    ts_ms: int
    event_id: str


class ChangeEvaluator:
    def __init__(self, rule: Rule, timers: Timers) -> None:
        spec = rule.spec
        assert isinstance(spec, ChangeSpec)
        self.rule, self.spec, self.timers = rule, spec, timers
        self.key_of = key_function(rule)
        self.capture = capture_function(rule)
        self.getters = [getter(p) for p in spec.fields]

    def selections(self) -> list[Selection]:
        return []

    def on_event(self, ev: Event, st: RuleState) -> list[Hit] | None:
        key = self.key_of(ev)
        if key is None:
            return None
        parts = [g(ev) for g in self.getters]
        if self.spec.ignore_null and any(p is None or p == "" for p in parts):
            return None
        value = "|".join("" if p is None else str(p) for p in parts)
        last: Last | None = st.keys.get(key)
        if last is not None and ev.ts_ms < last.ts_ms:
            return None
        st.put(key, Last(value, ev.ts_ms, ev.id))
        self.timers.push(ev.ts_ms + self.spec.within_ms, (key, ev.ts_ms))
        if last is None or last.value == value or ev.ts_ms - last.ts_ms > self.spec.within_ms:
            return None
        return [
            Hit(
                key,
                ev.ts_ms,
                "fired",
                ev.ts_ms,
                self.capture(ev),
                window=(last.ts_ms, ev.ts_ms),
                evidence=(last.event_id, ev.id),
                extra={"previous": last.value},
            )
        ]

    def on_watermark(self, wm_ms: int, st: RuleState) -> list[Hit] | None:
        for key, ts_ms in self.timers.pop_due(wm_ms):
            last = st.keys.get(key)
            if last is not None and last.ts_ms == ts_ms:
                st.drop(key)
        return None

    def rebuild(self, st: RuleState) -> None:
        self.timers.reset((v.ts_ms + self.spec.within_ms, (k, v.ts_ms)) for k, v in st.keys.items())

    def describe(self, key: str, st: RuleState) -> dict[str, Any]:
        last = st.keys.get(key)
        if last is None:
            return {"key": key, "last_value": None}
        return {"key": key, "last_value": last.value, "seen_ms": last.ts_ms}


TYPE = RuleType("change", FIELDS, build, (Variant(ChangeSpec, ChangeEvaluator),))
