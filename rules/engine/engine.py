"""The rule engine: events in, warnings out, on event time. Pure and synchronous.

One engine serves one partition of one key space (:mod:`rules.engine.shard`). The watermark
trails the newest event time by ``lateness_ms``; deadlines fire when it passes them.

Warnings are a source too: every warning is fed, as a ``risk.warning`` event, to the rules
with ``source: warnings`` (not its own rule; a shadow rule's only to shadow rules).

What the engine takes is decided in one place (:meth:`Engine.admit`, the rule in
:mod:`rules.engine.admission`); :meth:`Engine.process` applies what it is given.

State is namespaced by ``rule_id@logic_hash``: a wording or severity change keeps it,
a logic change starts fresh. Rules with ``status: deprecated`` do not run.

Examples:
    >>> from rules import RuleSet
    >>> from rules.language.model import parse_rule
    >>> from envelope.build import EventMaker
    >>> make_event = EventMaker()
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
    >>> eng.process(make_event(ts_ms=1772414100000, type="app.accepted", app="A1"))
    []
    >>> eng.advance_to(eng.watermark_ms + 3_600_000)[0].stage
    'overdue'
"""

from __future__ import annotations

import logging
import pickle
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from envelope.events import Event, RiskWarning
from envelope.time import iso
from rules.engine.admission import (
    MAX_DEFAULT_DEDUP_MS,
    SEEN_PREFIX,
    Admission,
    Bounds,
    SeenIds,
    classify,
    reach_ms,
)
from rules.engine.runner import Runner
from rules.engine.timers import Wake
from rules.language.model import Rule
from rules.language.ruleset import RuleSet

ENGINE_KEY = ("__engine__", "clock")
MODEL, META, SUP = "__model__", "__meta__", "\x00s:"
WARNING_TYPE = "risk.warning"
MAX_DEPTH = 3
ERRORS_LOGGED = 5  # per rule and engine; later errors are counted only
log = logging.getLogger(__name__)


def warning_event(w: RiskWarning) -> Event:
    """A warning as an event for ``source: warnings`` rules: ``attrs`` holds the warning's
    fields (``rule_id``, ``severity``, ``stage``, ``key``, ``value``, ...), ``entity`` the
    entity of the event that triggered it."""
    entity = w.details.get("entity") or {}
    attrs = {
        "rule_id": w.rule_id,
        "rule_version": w.rule_version,
        "severity": w.severity,
        "stage": w.stage,
        "key": w.key,
        "value": w.value,
        "title": w.title,
        "tags": list(w.tags),
        "fingerprint": w.fingerprint,
        **(w.details.get("fields") or {}),
    }
    return Event(
        id=w.id,
        type=WARNING_TYPE,
        stream="warnings",
        ts=iso(w.ts_ms),
        ts_ms=w.ts_ms,
        source="riskloop",
        region=w.region,
        department=w.department,
        entity_kind=str(entity.get("kind") or "warning"),
        entity_id=str(entity.get("id") or w.key),
        attrs=attrs,
    )


class Engine:
    def __init__(
        self,
        ruleset: RuleSet,
        partition: int = 0,
        lateness_ms: int = 300_000,
        bounds: Bounds | None = None,
    ) -> None:
        self.partition = partition
        self.lateness_ms = lateness_ms
        self.bounds = bounds or Bounds()
        horizon = self.bounds.dedup_horizon_ms
        if horizon is None:  # the rules' reach, but never a year of ids per partition
            horizon = min(reach_ms(ruleset), MAX_DEFAULT_DEDUP_MS) + lateness_ms
        self.seen = SeenIds(horizon)
        self.max_ts_ms: int | None = None
        self.watermark_ms: int = 0
        self.stats: dict[str, Counter[str]] = {}
        self._wake = Wake()
        self.runners: list[Runner] = []
        for rule in ruleset.rules:
            if rule.enabled:
                stats = self.stats.setdefault(rule.id, Counter())
                self.runners.append(Runner(rule, self._wake, stats, len(self.runners)))
        self.states = {r.ns: r.state for r in self.runners}
        self._by_ns = {r.ns: r for r in self.runners}
        self._by_type: dict[str, list[Any]] = {}
        self._any_type: list[Any] = []
        self._on_warnings: list[Runner] = []
        self._index()
        self._clock_dirty = False

    def feedback(self, rule_id: str, key: str, outcome: str) -> bool:
        """An inspector's verdict (``confirmed``/``dismissed``) on a warning of ``rule_id`` for
        ``key`` reaches the rule's detector: a dismissed one is learned as normal. Rules
        without a detector ignore it. Not event time: the watermark does not move. True when
        a detector learned (counted as the rule's ``learned`` stat)."""
        for r in self.runners:
            if r.rule.id == rule_id:
                on_feedback = getattr(r.evaluator, "on_feedback", None)
                if on_feedback is not None and on_feedback(key, outcome, r.state):
                    r.stats["learned"] += 1
                    return True
                return False
        return False

    def _index(self) -> None:
        """Route events by type: most rules only look at one or two types."""
        for r in self.runners:
            if r.rule.source == "warnings":
                self._on_warnings.append(r)
            elif r.types is None:
                self._any_type.append(r.on_event)
            else:
                for t in r.types:
                    self._by_type.setdefault(t, []).append(r.on_event)
        for t, handlers in self._by_type.items():
            handlers.extend(self._any_type)
            self._by_type[t] = handlers

    def admit(self, ev: Event, now_ms: int, age_from_ms: int | None = None) -> Admission:
        """Whether ``ev`` may be applied now (``now_ms``: the wall clock, which this never
        reads; ``age_from_ms``: where its age counts from, if not the wall clock): ok, or
        future, too_old, duplicate, too_late with the reason. Changes nothing.

        >>> from rules import RuleSet
        >>> from envelope.build import EventMaker
        >>> eng, make = Engine(RuleSet([]), lateness_ms=60_000), EventMaker()
        >>> now = 1772586000000
        >>> ev = make(ts_ms=now, type="app.accepted", id="e1")
        >>> eng.admit(ev, now).kind, eng.process(ev), eng.admit(ev, now).kind
        ('ok', [], 'duplicate')
        >>> eng.admit(make(ts_ms=now - 120_000, type="app.accepted", id="e2"), now).kind
        'too_late'
        """
        return classify(
            ev.ts_ms,
            now_ms,
            self.watermark_ms,
            self.bounds,
            lateness_ms=self.lateness_ms,
            seen_ms=self.seen.seen_at(ev.id, self.watermark_ms),
            age_from_ms=age_from_ms,
        )

    def process(
        self, ev: Event, advance: bool = True, watermark: int | None = None
    ) -> list[RiskWarning]:
        """Apply one event; returns its warnings and those of deadlines it lets pass.

        Deadlines due strictly before the event's own time fire first, on the state as it
        was (a heartbeat that went silent before this beat, a window that emptied before
        this event); the event is applied next; then what is due at its time. With
        ``advance=False`` the caller gives the ``watermark`` (a live worker holds it back
        while one of its input topics lags behind another), or none to leave it.
        """
        ts = ev.ts_ms
        last = self.max_ts_ms
        if advance:
            target = ts - self.lateness_ms if last is None or ts > last else None
        else:
            target = watermark
        out: list[RiskWarning] = []
        if last is not None and target is not None and target > self.watermark_ms:
            early = target if target < ts else ts - 1  # strictly before the event
            if early > self.watermark_ms:
                heap = self._wake.heap
                if heap and heap[0][0] <= early:
                    out = self.advance_to(early)
                else:
                    self.watermark_ms = early
                    self._clock_dirty = True
        n0 = len(out)
        for handler in self._by_type.get(ev.type, self._any_type):
            try:  # free in CPython 3.11+ unless it raises
                ws = handler(ev)
            except Exception as exc:  # one rule's fault never blinds the others
                runner = next(r for r in self.runners if r.on_event is handler)
                self._rule_failed(runner, f"event {ev.id} ({ev.type})", exc)
                continue
            if ws:
                out.extend(ws)
        if self._on_warnings and len(out) > n0:
            out.extend(self._feed(out[n0:], 0))
        if last is None or ts > last:
            self.max_ts_ms = ts
            self._clock_dirty = True
        if target is not None and target > self.watermark_ms:  # due at the event's time
            heap = self._wake.heap
            if heap and heap[0][0] <= target:
                out.extend(self.advance_to(target))
            else:
                self.watermark_ms = target
                self._clock_dirty = True
        self.seen.applied(ev.id, ts)
        self.seen.expire(self.watermark_ms)
        return out

    def _rule_failed(self, runner: Runner, what: str, exc: Exception) -> None:
        """Count a rule's error (``errors`` in its stats) and log the first few; the other
        rules carry on. ``what`` says on what it failed (an event, the watermark)."""
        stats = self.stats[runner.rule.id]
        stats["errors"] += 1
        if stats["errors"] <= ERRORS_LOGGED:
            log.error(
                "rule %s failed on %s: %s: %s%s",
                runner.rule.id,
                what,
                type(exc).__name__,
                exc,
                "; later errors of this rule are only counted"
                if stats["errors"] == ERRORS_LOGGED
                else "",
                exc_info=stats["errors"] == 1,
            )

    def advance_to(self, wm_ms: int) -> list[RiskWarning]:
        """Move the watermark forward (never back) and fire what it passes."""
        if wm_ms <= self.watermark_ms:
            return []
        self.watermark_ms = wm_ms
        self._clock_dirty = True
        self.seen.expire(wm_ms)
        out: list[RiskWarning] = []
        for owner in self._wake.due_owners(wm_ms):
            runner = self.runners[owner]
            try:
                out.extend(runner.on_watermark(wm_ms))
            except Exception as exc:
                self._rule_failed(runner, f"the watermark at {iso(wm_ms)}", exc)
                runner.timers.report()  # what is still due wakes it again
                runner.sup_timers.report()
        if self._on_warnings and out:
            out.extend(self._feed(out, 0))
        return out

    def advance_idle(self, elapsed_ms: int) -> list[RiskWarning]:
        """No events for a while: let event time pass by the elapsed processing time."""
        if self.max_ts_ms is None or elapsed_ms <= 0:
            return []
        return self.advance_to(self.watermark_ms + elapsed_ms)

    def _feed(self, warnings: list[RiskWarning], depth: int) -> list[RiskWarning]:
        """Warnings into ``source: warnings`` rules, and what those raise, a few levels deep."""
        if depth >= MAX_DEPTH:
            return []
        derived = self.take_warnings(warnings)
        if derived:
            derived.extend(self._feed(derived, depth + 1))
        return derived

    def take_warnings(self, warnings: Iterable[RiskWarning]) -> list[RiskWarning]:
        """Warnings into this engine's ``source: warnings`` rules, one level: what they raise
        is returned, not fed again (a caller routing warnings between engines does that)."""
        derived: list[RiskWarning] = []
        for w in warnings:
            if w.stage == "resolved":
                continue
            shadow = bool(w.details.get("shadow"))
            ev: Event | None = None
            for r in self._on_warnings:
                if r.rule.id == w.rule_id or (shadow and not r.rule.shadow):
                    continue
                ev = ev or warning_event(w)
                try:
                    derived.extend(r.on_event(ev))
                except Exception as exc:
                    self._rule_failed(r, f"warning {w.id} of {w.rule_id}", exc)
        return derived

    def seed(self, events: Iterable[Event]) -> int:
        """Learn from past events without emitting anything (a baseline for ``new_value``
        and ``spike``, open windows and obligations) so a fresh deployment does not flood.
        Returns the number of events seen; the watermark ends at the newest event."""
        n = 0
        for r in self.runners:
            r.silent = True
        try:
            for ev in events:
                self.process(ev)
                n += 1
            if self.max_ts_ms is not None:
                self.advance_to(self.max_ts_ms)
        finally:
            for r in self.runners:
                r.silent = False
        return n

    # -- durability: per-key snapshots, written in batches by the caller -----------------

    def export_dirty(self) -> dict[tuple[str, str], bytes | None]:
        """State changed since the last call: ``{(namespace, key): pickled or None}``."""
        out: dict[tuple[str, str], bytes | None] = {}
        for ns, st in self.states.items():
            for key in st.dirty:
                value = st.keys.get(key)
                out[(ns, key)] = None if value is None else pickle.dumps(value, protocol=5)
            st.dirty.clear()
            for dkey in st.sup_dirty:
                entry = st.sup.get(dkey)
                out[(ns, SUP + dkey)] = None if entry is None else pickle.dumps(entry, protocol=5)
            st.sup_dirty.clear()
            if st.model_dirty:
                out[(ns, MODEL)] = pickle.dumps(st.model, protocol=5)
                st.model_dirty = False
            if st.meta_dirty:
                out[(ns, META)] = pickle.dumps(st.meta, protocol=5)
                st.meta_dirty = False
        if self._clock_dirty:
            out[ENGINE_KEY] = pickle.dumps((self.max_ts_ms, self.watermark_ms))
            self._clock_dirty = False
        for key, blob in self.seen.export_dirty():
            out[(ENGINE_KEY[0], key)] = blob
        return out

    def restore(self, items: Iterable[tuple[tuple[str, str], bytes]]) -> int:
        """Load snapshots written by :meth:`export_dirty`; state of changed logic is skipped."""
        n = 0
        for (ns, key), blob in items:
            if (ns, key) == ENGINE_KEY:
                self.max_ts_ms, self.watermark_ms = pickle.loads(blob)
                continue
            if ns == ENGINE_KEY[0] and key.startswith(SEEN_PREFIX):
                self.seen.restore(key, blob)
                continue
            st = self.states.get(ns)
            if st is None:
                continue
            if key == MODEL:
                st.model = pickle.loads(blob)
            elif key == META:
                st.meta = pickle.loads(blob)
            elif key.startswith(SUP):
                st.sup[key[len(SUP) :]] = pickle.loads(blob)
            else:
                st.keys[key] = pickle.loads(blob)
            n += 1
        for r in self.runners:
            r.rebuild()
        return n

    # -- introspection -----------------------------------------------------------------

    def key_count(self) -> int:
        return sum(len(st.keys) for st in self.states.values())

    def models(self) -> Iterator[tuple[Rule, Any]]:
        for r in self.runners:
            if r.state.model is not None:
                yield r.rule, r.state.model

    def runner(self, rule_id: str) -> Runner:
        for r in self.runners:
            if r.rule.id == rule_id:
                return r
        raise KeyError(rule_id)

    def state_of(self, rule_id: str, key: str) -> dict[str, Any]:
        """What the rule holds for one key (window contents, open obligation, ...)."""
        r = self.runner(rule_id)
        return r.evaluator.describe(key, r.state)
