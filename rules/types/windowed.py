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
the watermark only forgets keys whose window has emptied. Either way the episodes, and so
the number of warnings, are the same: an event that leaves the window at the instant
another arrives does not end the episode (the window ending then holds the new one), and
the watermark at ``wm`` judges only windows ending before ``wm`` (an event at ``wm`` may
still come).

A "fewer than" condition on a count or distinct values (``lt``/``lte``, or any condition
that holds for an empty window) is judged only once the key has been watched for a whole
window, from its first event: a key is not "quiet" the moment it first appears. From then
on it fires when the count dips, to zero too when the events stop (``min_events``
defaults to 0 for such a rule); the key's state stays while that episode is open.

An event older than its key's newest one (late, within the lateness) is inserted at its
own time and the windows that now hold it are judged again (:mod:`rules.types.late`): an
episode it creates fires at the instant it starts, as in time order; one it only prolongs
(or joins to an earlier one) fires nothing new. So arrival order does not change what a
condition that events can only make true (counts, distinct values, sums of non-negative
values against lower bounds) fires; for any other condition a warning raised before the
late event came in stays raised. The events that left the window are kept
(``past``) until the watermark is a window past them, for such late events.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field
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
    CaptureRow,
    Hit,
    RuleState,
    key_function,
    restore_fields,
    top_values,
)
from rules.types.late import on_late

SKIP = object()


@dataclass(slots=True)
class Window:
    """Per-key state: entries ``(ts_ms, value, event id, top-value fields)`` in time order,
    the aggregator's accumulator and the open episode; ``last``: what a warning needs of
    the newest event (:class:`~rules.types.common.CaptureRow`); ``past``: entries that
    left the window, kept for late events; ``since``: the key's first event time;
    ``closed``: the last episode that closed, ``(start, end, level)``.

    Lists, not deques: a key holds few entries, and an empty deque alone takes 600 bytes."""

    entries: list[tuple[Any, ...]]
    acc: Any
    last: tuple[Any, ...] | Event | None = None  # an Event in checkpoints of old releases
    episode: int | None = None
    level: int = -1
    due: int = INF
    past: list[tuple[Any, ...]] = field(default_factory=list)
    since: int = -INF
    closed: tuple[int, int, int] | None = None

    def __setstate__(self, state: tuple[Any, dict[str, Any]]) -> None:
        restore_fields(self, state)  # a checkpoint from before ``past`` still loads
        if not isinstance(self.entries, list):  # deques, in checkpoints of older releases
            self.entries, self.past = list(self.entries), list(self.past)


def evict(win: Window, horizon_ms: int, agg: Any) -> None:
    """Move entries at or before ``horizon_ms`` to ``past``, retracting them from the
    accumulator.

    >>> from rules.types.aggregates import Count
    >>> agg = Count()
    >>> w = Window([(1, None, "e1"), (5, None, "e2"), (9, None, "e3")], [3])
    >>> evict(w, 5, agg); [e[0] for e in w.entries], agg.result(w.acc), len(w.past)
    ([9], 1.0, 2)
    """
    entries, past = win.entries, win.past
    n = 0
    while n < len(entries) and entries[n][0] <= horizon_ms:
        agg.remove(win.acc, entries[n][1])
        n += 1
    if n:
        past.extend(entries[:n])
        del entries[:n]


def fewer_than(agg: Any, limits: Limits) -> bool:
    """Is this a "fewer than" condition on a count or distinct values (an upper bound, or
    one an empty window meets), judged only once a key has been watched a whole window?

    >>> from rules.types.aggregates import Count
    >>> fewer_than(Count(), Limits((("lt", 2.0),))), fewer_than(Count(), Limits((("gte", 3.0),)))
    (True, False)
    """
    if not agg.rising:
        return False
    return any(op in ("lt", "lte") for op, _ in limits.parts) or limits.holds(0.0)


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
        self.capture = CaptureRow(rule)
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
        self.watched = fewer_than(self.agg, self.limits)
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
        if self.watched and t < win.since + self.window_ms:
            return None  # not watched for a whole window yet
        value = self._result(win.acc)
        if self._holds(value) and len(win.entries) >= self.min_events:
            if win.episode is None:
                closed = win.closed
                if closed is not None and closed[1] == t:
                    # closed at this very instant by an earlier event of it (or by the
                    # watermark): the window ending now holds them all, the episode goes on
                    win.episode, win.level = closed[0], closed[2]
                    return None
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
        win.closed = (win.episode, t, win.level)
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
        ctx = self.capture.ctx(win.last) if win.last is not None else {}
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
            past = win.past  # what no event at or after the watermark can need
            if past and past[0][0] < wm_ms - self.window_ms:
                del past[: bisect_left(past, wm_ms - self.window_ms, key=_ts)]
            st.dirty.add(key)
            if not win.entries and win.episode is None:
                del st.keys[key]
            elif win.entries:
                win.due = self._next_due(win)
                self.timers.push(win.due, key)
        return hits

    def _next_due(self, win: Window) -> int:
        """Stepwise: just after the oldest entry leaves; else just after the newest does
        (the watermark judges the windows that end before it)."""
        return win.entries[0 if self.stepwise else -1][0] + self.window_ms + 1

    def _expire(self, key: str, win: Window, before_ms: int, hits: list[Hit]) -> None:
        """Judge the windows ending before ``before_ms``."""
        entries, w = win.entries, self.window_ms
        if not self.stepwise:
            evict(win, before_ms - w - 1, self.agg)
            if win.episode is not None and not (
                len(entries) >= self.min_events and self.limits.holds(self.agg.result(win.acc))
            ):
                win.closed = (win.episode, before_ms - 1, win.level)
                win.episode, win.level = None, -1
        else:
            while entries and entries[0][0] + w < before_ms:
                t = entries[0][0] + w
                evict(win, t - w, self.agg)
                found = self.decide(key, win, t)
                if found:
                    hits.extend(found)

    def late(self, key: str, win: Window, ev: Event, entry: tuple[Any, ...]) -> list[Hit] | None:
        """An event older than the key's newest (:func:`rules.types.late.on_late`)."""
        return on_late(self, key, win, ev, entry)

    def judged(self, value: float | None, n: int) -> bool:
        """Does the condition hold for a window with this value and ``n`` events?"""
        return self._holds(value) and n >= self.min_events

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
    expire, late, row = w._expire, w.late, w.capture.row
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
        entry = (ts, value, ev.id, top_of(ev) if top_of is not None else None)
        if win is None:
            win = keys[key] = Window([], initialize(), since=ts)
        elif win.entries and ts < win.entries[-1][0]:
            st.dirty.add(key)
            return late(key, win, ev, entry)
        elif stepwise and win.due <= ts and win.entries:
            # entries left the window before this event, and the watermark (held back by
            # lateness) has not let them go yet: decide at their own instants first
            early = []
            expire(key, win, ts, early)
            win.due = INF
        st.dirty.add(key)
        entries, past = win.entries, win.past
        entries.append(entry)
        win.last = row(ev)
        acc = win.acc
        end = entries[-1][0]
        horizon = end - window_ms
        evicted = entries[0][0] <= horizon
        # An open episode whose window lost entries before this event: did the condition
        # stop holding at those instants (before this event counts)? Decided on event time,
        # whether or not the watermark got there first. Entries leaving at this very instant
        # leave as it arrives: the window ending now holds it, so they are not part of that.
        recheck = evicted and not stepwise and win.episode is not None
        if distinct:
            if recheck:
                while entries[0][0] < horizon:
                    old = entries.pop(0)
                    past.append(old)
                    if n := acc[old[1]] - 1:
                        acc[old[1]] = n
                    else:
                        del acc[old[1]]
                if not holds(float(len(acc))):  # closed when the last of them left
                    win.closed = (win.episode, past[-1][0] + window_ms, win.level)
                    win.episode, win.level = None, -1
            acc[value] = acc.get(value, 0) + 1
            while evicted and entries and entries[0][0] <= horizon:
                old = entries.pop(0)
                past.append(old)
                if n := acc[old[1]] - 1:
                    acc[old[1]] = n
                else:
                    del acc[old[1]]
            held = holds(float(len(acc)))
        else:
            if recheck:
                while entries[0][0] < horizon:
                    old = entries.pop(0)
                    past.append(old)
                    remove(acc, old[1])
                if not holds(result(acc)):  # closed when the last of them left
                    win.closed = (win.episode, past[-1][0] + window_ms, win.level)
                    win.episode, win.level = None, -1
            add(acc, value)
            while evicted and entries and entries[0][0] <= horizon:
                old = entries.pop(0)
                past.append(old)
                remove(acc, old[1])
            held = holds(result(acc))
        if win.episode is None:  # decide() in short while the condition does not hold
            hits = decide(key, win, end) if held else None
        elif skip_open and not evicted:
            hits = None
        else:
            hits = decide(key, win, end)
        if entries:
            if stepwise:
                due = entries[0][0] + window_ms + 1
                if due < win.due:
                    win.due = due
                    push(due, key)
            elif win.due == INF:  # lazily: only to forget the key once it is empty
                win.due = end + window_ms + 1
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
