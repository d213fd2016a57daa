"""The rule engine: events in, warnings out, on event time. Pure and synchronous.

One engine serves one partition of the event stream (the live worker keeps one per
assigned partition; a backtest shards a file the same way). The watermark trails the
newest event time by ``lateness_ms``; deadlines fire when it passes them. A live worker
that sees no events calls :meth:`Engine.advance_idle` so deadlines still fire.

Examples:
    >>> from rules import RuleSet
    >>> from rules.model import parse_rule
    >>> rule = parse_rule('''
    ... id: overdue
    ... title: not decided in time
    ... type: absence
    ... group_by: [attrs.app]
    ... anchor: {type: app.accepted}
    ... fulfilled_by: {type: app.decided}
    ... deadline: {after: 1h}
    ... ''', "overdue.yaml")
    >>> eng = Engine(RuleSet([rule]), lateness_ms=0)
    >>> def ev(i, t, minute):
    ...     return Event.from_dict({"id": f"e{i}", "type": t, "stream": "service",
    ...         "ts": f"2026-03-02T09:{minute:02d}:00+08:00", "source": "s", "region": "r",
    ...         "department": "d", "entity": {"kind": "k", "id": "x"}, "attrs": {"app": "A1"}})
    >>> eng.process(ev(1, "app.accepted", 0))
    []
    >>> eng.advance_to(eng.watermark_ms + 3_600_000)[0].stage
    'overdue'
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable
from typing import Any, Protocol

from riskloop.events import Event, RiskWarning
from rules.kinds.common import RuleState
from rules.model import Rule
from rules.ruleset import RuleSet

ENGINE_KEY = ("__engine__", "clock")


class Evaluator(Protocol):
    rule: Rule

    def selections(self) -> list[Any]: ...
    def on_event(self, ev: Event, st: RuleState) -> list[RiskWarning]: ...
    def on_watermark(self, wm_ms: int, st: RuleState) -> list[RiskWarning]: ...
    def rebuild(self, st: RuleState) -> None: ...


def _evaluator(rule: Rule) -> Evaluator:
    """Explicit table from rule type to evaluator, imported lazily."""
    if rule.type == "threshold":
        from rules.kinds.threshold import ThresholdEvaluator

        return ThresholdEvaluator(rule)
    if rule.type == "absence":
        from rules.kinds.absence import AbsenceEvaluator

        return AbsenceEvaluator(rule)
    if rule.type == "anomaly":
        from rules.kinds.anomaly import AnomalyEvaluator

        return AnomalyEvaluator(rule)
    raise ValueError(f"no evaluator for rule type {rule.type!r}")


class Engine:
    def __init__(self, ruleset: RuleSet, partition: int = 0, lateness_ms: int = 300_000) -> None:
        self.partition = partition
        self.lateness_ms = lateness_ms
        self.max_ts_ms: int | None = None
        self.watermark_ms: int = 0
        self.evaluators = [_evaluator(r) for r in ruleset.rules]
        self.states = {self._ns(e.rule): RuleState() for e in self.evaluators}
        self._by_type: dict[str, list[Evaluator]] = {}
        self._any_type: list[Evaluator] = []
        for e in self.evaluators:
            types: set[str] = set()
            for sel in e.selections():
                if sel.types is None:
                    types = set()
                    self._any_type.append(e)
                    break
                types |= sel.types
            for t in types:
                self._by_type.setdefault(t, []).append(e)
        self._clock_dirty = False

    @staticmethod
    def _ns(rule: Rule) -> str:
        """State namespace: a change of logic starts fresh state; wording changes keep it."""
        return f"{rule.id}@{rule.logic_hash}"

    def process(self, ev: Event, advance: bool = True) -> list[RiskWarning]:
        """Apply one event; returns its warnings and those of deadlines it lets pass.

        With ``advance=False`` the caller moves the watermark itself (a live worker holds
        it back while one of its input topics lags behind another).
        """
        out: list[RiskWarning] = []
        for e in self._by_type.get(ev.type, ()):
            out.extend(e.on_event(ev, self.states[self._ns(e.rule)]))
        for e in self._any_type:
            out.extend(e.on_event(ev, self.states[self._ns(e.rule)]))
        if self.max_ts_ms is None or ev.ts_ms > self.max_ts_ms:
            self.max_ts_ms = ev.ts_ms
            if advance:
                out.extend(self.advance_to(ev.ts_ms - self.lateness_ms))
        return out

    def advance_to(self, wm_ms: int) -> list[RiskWarning]:
        """Move the watermark forward (never back) and fire what it passes."""
        if wm_ms <= self.watermark_ms:
            return []
        self.watermark_ms = wm_ms
        self._clock_dirty = True
        out: list[RiskWarning] = []
        for e in self.evaluators:
            out.extend(e.on_watermark(wm_ms, self.states[self._ns(e.rule)]))
        return out

    def advance_idle(self, elapsed_ms: int) -> list[RiskWarning]:
        """No events for a while: let event time pass by the elapsed processing time."""
        if self.max_ts_ms is None or elapsed_ms <= 0:
            return []
        return self.advance_to(self.watermark_ms + elapsed_ms)

    # -- durability: per-key snapshots, written in batches by the caller -----------------

    def export_dirty(self) -> dict[tuple[str, str], bytes | None]:
        """State changed since the last call: ``{(namespace, key): pickled or None}``."""
        out: dict[tuple[str, str], bytes | None] = {}
        for ns, st in self.states.items():
            for key in st.dirty:
                value = st.keys.get(key)
                out[(ns, key)] = None if value is None else pickle.dumps(value, protocol=5)
            st.dirty.clear()
            if st.model_dirty:
                out[(ns, "__model__")] = pickle.dumps(st.model, protocol=5)
                st.model_dirty = False
        if self._clock_dirty:
            out[ENGINE_KEY] = pickle.dumps((self.max_ts_ms, self.watermark_ms))
            self._clock_dirty = False
        return out

    def restore(self, items: Iterable[tuple[tuple[str, str], bytes]]) -> int:
        """Load snapshots written by :meth:`export_dirty`; state of changed logic is skipped."""
        n = 0
        for (ns, key), blob in items:
            if (ns, key) == ENGINE_KEY:
                self.max_ts_ms, self.watermark_ms = pickle.loads(blob)
                continue
            st = self.states.get(ns)
            if st is None:
                continue
            if key == "__model__":
                st.model = pickle.loads(blob)
            else:
                st.keys[key] = pickle.loads(blob)
            n += 1
        for e in self.evaluators:
            e.rebuild(self.states[self._ns(e.rule)])
        return n

    def key_count(self) -> int:
        return sum(len(st.keys) for st in self.states.values())

    def models(self) -> Iterable[tuple[Rule, Any]]:
        for e in self.evaluators:
            model = self.states[self._ns(e.rule)].model
            if model is not None:
                yield e.rule, model


