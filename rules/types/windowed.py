# Over 50 lines on purpose: _on_event, the per-event hot path, is one inlined closure.
"""Sliding event-time windows per key, shared by ``threshold`` and ``ratio``.

The window ending at time ``t`` holds the key's events with ``t - window < ts <= t``.
A warning opens an *episode* when the condition starts to hold; it does not fire again
until the condition has stopped holding (the episode closes), except that with severity
tiers a rise to a higher tier is reported once per tier. With ``resolve: {on: cleared}``
the close is reported as a ``resolved`` warning.

Events are evaluated as they arrive (at the newest event time of the key). When a
shrinking window can start or end the condition (``lt``, ``between``, averages, ratios,
``min_events``) or the rule resolves, the watermark evaluates the key again each time an
event leaves its window, at the exact instant it leaves, so the outcome has a
deterministic event time. Otherwise (counts and distinct values against lower bounds)
the watermark only forgets keys whose window has emptied.
"""

from __future__ import annotations

from bisect import insort
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from heapq import heappop
from typing import Any

from envelope.events import Event
from envelope.paths import getter
from rules.engine.timers import INF, Timers
from rules.language.blocks import RANK
from rules.language.model import Rule
from rules.types.aggregates import Distinct, Limits
from rules.types.common import (
    EVIDENCE_MAX,
    Hit,
    RuleState,
    capture_function,
    key_function,
    top_values,
)

SKIP = object()


@dataclass(slots=True)
class Window:
    """Per-key state: entries ``(ts_ms, value, event id, top-value fields)`` in time order,
    the aggregator's accumulator and the open episode."""

    entries: deque[tuple[Any, ...]]
    acc: Any
    last: Event | None = None
    episode: int | None = None
    level: int = -1
    due: int = INF


def evict(win: Window, horizon_ms: int, agg: Any) -> None:
    """Drop entries at or before ``horizon_ms``, retracting them from the accumulator.

    >>> from rules.types.aggregates import Count
    >>> agg = Count()
    >>> w = Window(deque([(1, None, "e1"), (5, None, "e2"), (9, None, "e3")]), [3])
    >>> evict(w, 5, agg); [e[0] for e in w.entries], agg.result(w.acc)
    ([9], 1.0)
    """
    entries = win.entries
    while entries and entries[0][0] <= horizon_ms:
        agg.remove(win.acc, entries.popleft()[1])


class WindowedEvaluator:
    """Base of the windowed types: subclasses give the aggregator, the limits, the
    minimum number of events and ``value_of(event)`` (``SKIP`` to ignore an event)."""

    agg: Any
    limits: Limits
    min_events: int = 1

    def __init__(self, rule: Rule, timers: Timers) -> None:
        self.rule = rule
        self.timers = timers
        self.window_ms: int = rule.spec.window_ms  # type: ignore[union-attr]
        self.key_of = key_function(rule)
        self.capture = capture_function(rule)
        self.top_fields = rule.output.top_fields
        self.top_of = _row_function(self.top_fields)
        self.tiers = rule.severities is not None

    def setup(self) -> None:
        """Call at the end of a subclass's ``__init__``."""
        self.stepwise = (
            self.rule.resolve is not None
            or not (self.agg.rising and self.limits.rising)
            or self.min_events > 1
        )
        # adding to a rising aggregate cannot end an open episode: no need to decide then
        self.skip_open = not self.stepwise and not self.tiers
        self._add = self.agg.add
        self._remove = self.agg.remove
        self._result = self.agg.result
        self._holds = self.limits.holds
        self.on_event = _on_event(self)  # type: ignore[method-assign,assignment]

    def selections(self) -> list[Any]:
        return []

    def value_of(self, ev: Event) -> Any:
        raise NotImplementedError

    def on_event(self, ev: Event, st: RuleState) -> list[Hit] | None:
        """Add one event to its key's window and decide (replaced by the closure of
        :func:`_on_event` when ``setup`` runs)."""
        return _on_event(self)(ev, st)

    def decide(self, key: str, win: Window, t: int) -> list[Hit] | None:
        """Evaluate the window ending at ``t``: open, escalate or close the episode."""
        value = self._result(win.acc)
        if self._holds(value) and len(win.entries) >= self.min_events:
            if win.episode is None:
                win.episode = t
                win.level = RANK[self.rule.severity_for(value)]
                return [self.hit(key, win, t, "fired", value)]
            if self.tiers:
                level = self.rule.severity_for(value)
                if RANK[level] > win.level:
                    win.level = RANK[level]
                    return [self.hit(key, win, t, "fired", value, escalation=level)]
            return None
        if win.episode is None:
            return None
        hit = self.hit(key, win, t, "resolved", value) if self.rule.resolve else None
        win.episode, win.level = None, -1
        return [hit] if hit else None

    def hit(
        self, key: str, win: Window, t: int, stage: str, value: float | None, escalation: str = ""
    ) -> Hit:
        entries = win.entries
        evidence = tuple(e[2] for e in list(entries)[-EVIDENCE_MAX:])
        top = None
        if self.top_fields:
            top = top_values((e[3] for e in entries), self.top_fields, self.rule.output.top_n)
        assert win.episode is not None
        ctx = self.capture(win.last) if win.last is not None else {}
        return Hit(
            key,
            t,
            stage,
            win.episode,
            ctx,
            value,
            (t - self.window_ms, t),
            evidence,
            escalation=escalation,
            top=top,
        )

    def on_watermark(self, wm_ms: int, st: RuleState) -> list[Hit] | None:
        hits: list[Hit] = []
        heap, keys = self.timers.heap, st.keys
        while heap and heap[0][0] <= wm_ms:
            due, key = heappop(heap)
            win = keys.get(key)
            if win is None or win.due != due:
                continue
            win.due = INF
            self._expire(key, win, wm_ms, hits)
            st.dirty.add(key)
            if not win.entries and win.episode is None:
                del st.keys[key]
            elif win.entries:
                win.due = self._next_due(win)
                self.timers.push(win.due, key)
        return hits

    def _next_due(self, win: Window) -> int:
        """Stepwise: when the oldest entry leaves; else when the newest does."""
        return win.entries[0 if self.stepwise else -1][0] + self.window_ms

    def _expire(self, key: str, win: Window, wm_ms: int, hits: list[Hit]) -> None:
        entries, w = win.entries, self.window_ms
        if not self.stepwise:
            evict(win, wm_ms - w, self.agg)
            if win.episode is not None and not (
                len(entries) >= self.min_events and self.limits.holds(self.agg.result(win.acc))
            ):
                win.episode, win.level = None, -1
            return
        while entries and entries[0][0] + w <= wm_ms:
            t = entries[0][0] + w
            evict(win, t - w, self.agg)
            found = self.decide(key, win, t)
            if found:
                hits.extend(found)
        if not entries:
            win.episode, win.level = None, -1

    def rebuild(self, st: RuleState) -> None:
        entries = []
        for key, win in st.keys.items():
            win.due = self._next_due(win) if win.entries else INF
            entries.append((win.due, key))
        self.timers.reset(entries)

    def describe(self, key: str, st: RuleState) -> dict[str, Any]:
        win = st.keys.get(key)
        if win is None:
            return {"key": key, "events": 0, "value": None, "episode_open": False}
        end = win.entries[-1][0] if win.entries else None
        value = self.agg.result(win.acc)
        if len(win.entries) < self.min_events:
            verdict = f"not met: {len(win.entries)} events, needs at least {self.min_events}"
        elif self.limits.holds(value):
            verdict = "met"
        else:
            verdict = f"not met: {value} is not {self.limits.text()}"
        return {
            "key": key,
            "events": len(win.entries),
            "value": value,
            "window": [end - self.window_ms, end] if end is not None else None,
            "condition": self.limits.text(),
            "verdict": verdict,
            "episode_open": win.episode is not None,
        }


def _on_event(w: WindowedEvaluator) -> Callable[[Event, RuleState], list[Hit] | None]:  # noqa: C901 hot path, steps inlined
    """``w.on_event`` as one closure over the evaluator's settings (the hot path of every
    windowed rule), with the ``distinct`` accumulator's steps inlined."""
    key_of, value_of, top_of, window_ms = w.key_of, w.value_of, w.top_of, w.window_ms
    add, remove, result, holds, decide = w._add, w._remove, w._result, w._holds, w.decide
    stepwise, skip_open, push, initialize = w.stepwise, w.skip_open, w.timers.push, w.agg.initialize
    expire = w._expire
    distinct = type(w.agg) is Distinct

    def on_event(ev: Event, st: RuleState) -> list[Hit] | None:  # noqa: C901 hot path, steps inlined
        key = key_of(ev)
        if key is None:
            return None
        value = value_of(ev)
        if value is SKIP:
            return None
        keys = st.keys
        win = keys.get(key)
        ts = ev.ts_ms
        early: list[Hit] | None = None
        if win is None:
            win = keys[key] = Window(deque(), initialize())
        elif stepwise and win.due < ts and win.entries:
            # entries left the window before this event, and the watermark (held back by
            # lateness) has not let them go yet: decide at their own instants first
            early = []
            expire(key, win, ts - 1, early)
            win.due = INF
        st.dirty.add(key)
        entry = (ts, value, ev.id, top_of(ev) if top_of is not None else None)
        entries = win.entries
        newest = not entries or ts >= entries[-1][0]
        if newest:
            entries.append(entry)
            win.last = ev
        else:
            insort(entries, entry, key=_ts)
        acc = win.acc
        end = entries[-1][0]
        horizon = end - window_ms
        evicted = entries[0][0] <= horizon
        # An open episode whose window lost entries before this event: did the condition
        # stop holding at those instants (before this event counts)? Decided on event time,
        # whether or not the watermark got there first.
        recheck = evicted and newest and not stepwise and win.episode is not None
        if distinct:
            if not recheck:
                acc[value] = acc.get(value, 0) + 1
            while evicted and entries and entries[0][0] <= horizon:
                old = entries.popleft()[1]
                if n := acc[old] - 1:
                    acc[old] = n
                else:
                    del acc[old]
            if recheck:
                if not holds(float(len(acc))):
                    win.episode, win.level = None, -1
                acc[value] = acc.get(value, 0) + 1
            held = holds(float(len(acc)))
        else:
            if not recheck:
                add(acc, value)
            while evicted and entries and entries[0][0] <= horizon:
                remove(acc, entries.popleft()[1])
            if recheck:
                if not holds(result(acc)):
                    win.episode, win.level = None, -1
                add(acc, value)
            held = holds(result(acc))
        if win.episode is None:  # decide() in short while the condition does not hold
            hits = decide(key, win, end) if held else None
        elif skip_open and not evicted:
            hits = None
        else:
            hits = decide(key, win, end)
        if win.last is None:
            win.last = ev
        if entries:
            if stepwise:
                due = entries[0][0] + window_ms
                if due < win.due:
                    win.due = due
                    push(due, key)
            elif win.due == INF:  # lazily: only to forget the key once it is empty
                win.due = end + window_ms
                push(win.due, key)
        if early:
            return early + hits if hits else early
        return hits

    return on_event


def _ts(entry: tuple[Any, ...]) -> Any:
    return entry[0]


def _row_function(paths: tuple[str, ...]) -> Callable[[Event], tuple[Any, ...]] | None:
    """The top-value fields of an event as one tuple (None when the rule names none); a
    single call for the common case of first-level attributes.

    >>> from envelope.build import EventMaker

    >>> make_event = EventMaker()
    >>> ev = make_event(ts_ms=1772414100000, dataset="tax", rows=3)
    >>> _row_function(("attrs.dataset", "attrs.purpose", "region"))(ev)
    ('tax', None, '330106')
    """
    if not paths:
        return None
    names = [p.partition(".")[2] for p in paths]
    if all(p.startswith("attrs.") and "." not in n for p, n in zip(paths, names, strict=True)):
        if len(names) == 2:
            n1, n2 = names
            return lambda ev: ((a := ev.attrs).get(n1), a.get(n2))
        return lambda ev: tuple(map(ev.attrs.get, names))
    getters = [getter(p) for p in paths]
    return lambda ev: tuple([g(ev) for g in getters])


__all__ = ["SKIP", "Window", "WindowedEvaluator", "evict"]
