"""``new_value``: a value (or combination of ``fields``) that a key has not shown within
``lookback`` fires once; seen again later, it is known. A key must have been seen for
``warmup`` before its new values count (``details["new"]`` names the value), and
:meth:`rules.engine.engine.Engine.seed` learns a baseline from past events so a fresh
deployment does not flood.

Examples:
    >>> from rules import RuleSet
    >>> from rules.engine.engine import Engine
    >>> from rules.language.model import parse_rule
    >>> from envelope.build import EventMaker
    >>> make_event = EventMaker()
    >>> rule = parse_rule('''
    ... id: new-dataset
    ... title: a staff account reads a dataset it never read before
    ... type: new_value
    ... match: {type: data.access}
    ... group_by: [attrs.account]
    ... fields: [attrs.dataset]
    ... lookback: 30d
    ... ''', "r.yaml")
    >>> eng = Engine(RuleSet([rule]), lateness_ms=0)
    >>> T0 = 1772414100000
    >>> def read(i, dataset):
    ...     return make_event(ts_ms=T0 + i * 60_000, type="data.access", account="s1",
    ...                       dataset=dataset)
    >>> eng.seed([read(0, "tax"), read(1, "household")])
    2
    >>> [(w.key, w.details["new"]) for i, d in enumerate(["tax", "medical", "medical"], 2)
    ...  for w in eng.process(read(i, d))]
    [('s1', 'medical')]
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
class NewValueSpec:
    fields: tuple[str, ...]
    lookback_ms: int
    ignore_null: bool
    warmup_ms: int


FIELDS = (
    Field("fields", Many(Path()), required=True, doc="the value, or combination, that is new"),
    Field("lookback", Duration(), required=True, doc="seen within this long counts as known"),
    Field("ignore_null", Flag(), default=True, doc="events missing a field are skipped"),
    Field("warmup", Duration(), doc="a key must be known this long before its new values fire"),
)


def build(v: dict[str, Any], r: Reader) -> NewValueSpec:
    return NewValueSpec(v["fields"], v["lookback"], v["ignore_null"], v["warmup"] or 0)


SWEEP = "\x00sweep"
HOUR_MS = 3_600_000


@dataclass(slots=True)
class Seen:
    first_ms: int
    values: dict[str, int] = field(default_factory=dict)


class NewValueEvaluator:
    def __init__(self, rule: Rule, timers: Timers) -> None:
        spec = rule.spec
        assert isinstance(spec, NewValueSpec)
        self.rule, self.spec, self.timers = rule, spec, timers
        self.key_of = key_function(rule)
        self.capture = capture_function(rule)
        self.getters = [getter(p) for p in spec.fields]
        self.sweep_ms = max(spec.lookback_ms // 8, HOUR_MS)
        self.swept = False
        self.lookback_ms = spec.lookback_ms
        self.warmup_ms = spec.warmup_ms
        if len(self.getters) == 1:
            self.value_of = self._one_value(self.getters[0], spec.ignore_null)  # type: ignore[method-assign]

    def selections(self) -> list[Selection]:
        return []

    @staticmethod
    def _one_value(get: Any, ignore_null: bool) -> Any:
        """``value_of`` for a single field, as one closure (the common case)."""
        empty = None if ignore_null else ""

        def one(ev: Event) -> str | None:
            v = get(ev)
            if v is None or v == "":
                return empty
            return v if isinstance(v, str) else str(v)

        return one

    def value_of(self, ev: Event) -> str | None:
        if len(self.getters) == 1:
            v = self.getters[0](ev)
            if v is None or v == "":
                return None if self.spec.ignore_null else ""
            return v if isinstance(v, str) else str(v)
        parts = [g(ev) for g in self.getters]
        if self.spec.ignore_null and any(p is None or p == "" for p in parts):
            return None
        return "|".join("" if p is None else str(p) for p in parts)

    def on_event(self, ev: Event, st: RuleState) -> list[Hit] | None:
        key = self.key_of(ev)
        if key is None:
            return None
        value = self.value_of(ev)
        if value is None:
            return None
        ts = ev.ts_ms
        keys = st.keys
        seen = keys.get(key)
        if seen is None:
            seen = Seen(ts)
            keys[key] = seen
            if not self.swept:
                self.swept = True
                self.timers.push(ts + self.sweep_ms, SWEEP)
        st.dirty.add(key)
        values = seen.values
        last = values.get(value)
        if ts < seen.first_ms:
            seen.first_ms = ts
        if last is not None and ts - last <= self.lookback_ms:
            if ts > last:
                values[value] = ts
            return None
        values[value] = ts if last is None or ts > last else last
        if ts - seen.first_ms < self.warmup_ms:
            return None
        return [
            Hit(
                key,
                ev.ts_ms,
                "fired",
                ev.ts_ms,
                self.capture(ev),
                evidence=(ev.id,),
                extra={"new": value},
            )
        ]

    def on_watermark(self, wm_ms: int, st: RuleState) -> list[Hit] | None:
        """Every so often, forget values not seen within the lookback."""
        if not self.timers.pop_due(wm_ms):
            return None
        horizon = wm_ms - self.spec.lookback_ms
        for key in list(st.keys):
            seen = st.keys[key]
            stale = [v for v, t in seen.values.items() if t < horizon]
            if stale:
                for v in stale:
                    del seen.values[v]
                st.dirty.add(key)
                if not seen.values:
                    st.drop(key)
        self.timers.push(wm_ms + self.sweep_ms, SWEEP)
        return None

    def rebuild(self, st: RuleState) -> None:
        newest = max((t for s in st.keys.values() for t in s.values.values()), default=None)
        self.swept = newest is not None
        self.timers.reset([(newest + self.sweep_ms, SWEEP)] if newest is not None else [])

    def describe(self, key: str, st: RuleState) -> dict[str, Any]:
        seen = st.keys.get(key)
        if seen is None:
            return {"key": key, "known_values": {}}
        return {"key": key, "first_seen_ms": seen.first_ms, "known_values": dict(seen.values)}


TYPE = RuleType("new_value", FIELDS, build, (Variant(NewValueSpec, NewValueEvaluator),))
