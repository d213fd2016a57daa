"""``new_value``: a value (or combination of ``fields``) that a key has not shown within
``lookback`` fires once; seen again later, it is known. A key must have been seen for
``warmup`` before its new values count (``details["new"]`` names the value), and
:meth:`rules.engine.Engine.seed` learns a baseline from past events so a fresh
deployment does not flood.

Examples:
    >>> from rules import RuleSet
    >>> from rules.engine import Engine
    >>> from rules.model import parse_rule
    >>> from riskloop.testing import make_event
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

from riskloop.events import Event
from rules.kinds.common import Hit, RuleState, capture_function, key_function
from rules.model import Rule
from rules.operators import Selection, getter
from rules.specs import NewValueSpec
from rules.timers import Timers

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

    def selections(self) -> list[Selection]:
        return []

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
        seen = st.keys.get(key)
        if seen is None:
            seen = Seen(ev.ts_ms)
            st.keys[key] = seen
            if not self.swept:
                self.swept = True
                self.timers.push(ev.ts_ms + self.sweep_ms, SWEEP)
        st.dirty.add(key)
        last = seen.values.get(value)
        seen.first_ms = min(seen.first_ms, ev.ts_ms)
        if last is not None and ev.ts_ms - last <= self.spec.lookback_ms:
            if ev.ts_ms > last:
                seen.values[value] = ev.ts_ms
            return None
        seen.values[value] = max(ev.ts_ms, last or ev.ts_ms)
        if ev.ts_ms - seen.first_ms < self.spec.warmup_ms:
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
