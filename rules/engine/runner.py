"""One rule at work in one engine: its input filter, its evaluator, its state, its emitter.

The filter applies the rule's ``match`` (without the ``type`` test when the engine has
already routed the event by type), its ``where`` and its unexpired exceptions. The
evaluator comes from the rule's type in :mod:`rules.types.registry` (the variant of its
spec: an ``absence`` rule with a ``heartbeat`` runs the heartbeat evaluator).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any, Protocol

from envelope.events import Event, RiskWarning
from rules.engine.emit import Emitter
from rules.engine.timers import INF, Timers, Wake
from rules.language.model import Rule
from rules.matching.selection import Selection
from rules.types.common import Hit, RuleState
from rules.types.registry import rule_type

EMPTY: list[RiskWarning] = []


class Evaluator(Protocol):
    rule: Rule

    def selections(self) -> list[Selection]: ...
    def on_event(self, ev: Event, st: RuleState) -> list[Hit] | None: ...
    def on_watermark(self, wm_ms: int, st: RuleState) -> list[Hit] | None: ...
    def rebuild(self, st: RuleState) -> None: ...
    def describe(self, key: str, st: RuleState) -> dict[str, Any]: ...


def make_evaluator(rule: Rule, timers: Timers) -> Evaluator:
    return rule_type(rule.type).variant(rule.spec).evaluator(rule, timers)


def routing_types(rule: Rule, evaluator: Evaluator) -> frozenset[str] | None:
    """Event types the rule can react to, or None for "any type"."""
    if rule.match is not None and rule.match.types is not None:
        return rule.match.types
    types: set[str] = set()
    for sel in evaluator.selections():
        if sel.types is None:
            return None
        types |= sel.types
    return frozenset(types) if rule.match is None else None


def build_filter(rule: Rule, routed: bool, stats: Counter[str]) -> Callable[[Any], bool] | None:
    """One predicate for match, where and exceptions; None when there is nothing to test."""
    return combine(filter_checks(rule, routed, stats))


def combine(checks: list[Callable[[Any], bool]]) -> Callable[[Any], bool] | None:
    """All of ``checks`` as one predicate, tested in order; None for no checks."""
    if not checks:
        return None
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        c1, c2 = checks
        return lambda ev: c1(ev) and c2(ev)
    c1, c2, c3 = checks
    return lambda ev: c1(ev) and c2(ev) and c3(ev)


def filter_checks(rule: Rule, routed: bool, stats: Counter[str]) -> list[Callable[[Any], bool]]:
    """The predicates of :func:`build_filter`, in the order they are tested."""
    checks: list[Callable[[Any], bool]] = []
    sel = rule.match
    if sel is not None:
        sel = sel.without_types() if routed else sel
        if sel.alternatives != ((),):
            checks.append(sel.fast)
    if rule.where is not None:
        checks.append(rule.where.holds)
    if rule.exceptions:
        exemptions = rule.exceptions

        def not_exempt(ev: Any) -> bool:
            for x in exemptions:
                if x.applies(ev):
                    stats["excepted"] += 1
                    return False
            return True

        checks.append(not_exempt)
    return checks


class Runner:
    """A rule with its state in one engine."""

    def __init__(self, rule: Rule, wake: Wake, stats: Counter[str], index: int = 0) -> None:
        self.rule = rule
        self.ns = f"{rule.id}@{rule.logic_hash}"
        self.stats = stats
        self.timers = Timers(wake, index)
        self.sup_timers = Timers(wake, index)
        self.evaluator = make_evaluator(rule, self.timers)
        self.state = RuleState()
        self.emitter = Emitter(rule, self.sup_timers, stats)
        self.types = routing_types(rule, self.evaluator)
        self.checks = filter_checks(rule, self.types is not None, stats)
        self.accepts = combine(self.checks)
        self.silent = False
        self.on_event = self._handler()

    def _handler(self) -> Callable[[Event], list[RiskWarning]]:
        """``on_event(ev)`` as one closure: filter, evaluate, emit (the hot path)."""
        accepts, evaluate, state, runner = self.accepts, self.evaluator.on_event, self.state, self
        if accepts is None:

            def handle_all(ev: Event) -> list[RiskWarning]:
                hits = evaluate(ev, state)
                if not hits or runner.silent:
                    return EMPTY
                return runner.emitter.emit(hits, state)

            return handle_all
        if len(self.checks) == 2:  # the filter inlined: one call less per event
            c1, c2 = self.checks

            def handle_two(ev: Event) -> list[RiskWarning]:
                if not (c1(ev) and c2(ev)):
                    return EMPTY
                hits = evaluate(ev, state)
                if not hits or runner.silent:
                    return EMPTY
                return runner.emitter.emit(hits, state)

            return handle_two

        def handle(ev: Event) -> list[RiskWarning]:
            if accepts is not None and not accepts(ev):
                return EMPTY
            hits = evaluate(ev, state)
            if not hits or runner.silent:
                return EMPTY
            return runner.emitter.emit(hits, state)

        return handle

    def on_watermark(self, wm_ms: int) -> list[RiskWarning]:
        out = EMPTY
        timers, sup = self.timers, self.sup_timers
        heap = timers.heap
        if heap and heap[0][0] <= wm_ms:
            hits = self.evaluator.on_watermark(wm_ms, self.state)
            if hits and not self.silent:
                out = self.emitter.emit(hits, self.state)
        heap = sup.heap
        if heap and heap[0][0] <= wm_ms:
            self.emitter.expire(wm_ms, self.state)
        # Timers.report() of both heaps, inlined (heaps re-read: a callee may replace one)
        add = timers.wake.add
        if heap := timers.heap:
            add(heap[0][0], timers.owner)
        if heap := sup.heap:
            add(heap[0][0], sup.owner)
        return out

    def head(self) -> int:
        return min(self.timers.head(), self.sup_timers.head())

    def rebuild(self) -> None:
        self.evaluator.rebuild(self.state)
        self.emitter.rebuild(self.state)


__all__ = ["INF", "Runner", "make_evaluator"]
