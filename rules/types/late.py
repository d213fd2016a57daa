"""A late event in a sliding window: which windows now hold it, and what they add.

An event that arrives after a newer one of the same key (within the lateness) belongs to
the windows ending at ``ts .. ts + window``; they are judged again on the events they hold,
as if it had arrived in time. The key's windows change only at its events and at the
instants an event leaves (``ts + window``), so those instants are the only ones to judge.

:func:`added_runs` compares the condition at each of them without and with the late event
and returns the *runs* (maximal spans of instants where the condition holds) that the late
event created out of nothing. A run that touches an instant where the condition held
already is not new: it extends an episode that has had its warning. Window arithmetic on
plain integers, so it is tested without events:

    >>> from rules.types.aggregates import Count, Limits
    >>> gte3 = Limits((("gte", 3.0),)).holds
    >>> judge = Judge(Count(), lambda v, n, t: gte3(v), window_ms=10)
    >>> # events at 0, 5 and 16 (newest), then 8 arrives late: (−2, 8] holds 0, 5, 8
    >>> added_runs([(0, None), (5, None), (16, None)], (8, None), 16, judge)
    ([Run(start_ms=8, end_ms=10, value=3.0, end_value=2.0)], False)
    >>> added_runs([(0, None), (5, None), (16, None)], (12, None), 16, judge)
    ([], False)
"""

from __future__ import annotations

from bisect import insort
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from envelope.events import Event
from rules.engine.timers import INF
from rules.language.blocks import RANK
from rules.types.common import EVIDENCE_MAX, Hit, top_values

if TYPE_CHECKING:
    from rules.types.windowed import Window, WindowedEvaluator


@dataclass(frozen=True, slots=True)
class Judge:
    """How to judge one window: the aggregator, ``holds(value, n_events, end_ms)`` and the
    window length."""

    agg: Any
    holds: Callable[[float | None, int, int], bool]
    window_ms: int


@dataclass(frozen=True, slots=True)
class Run:
    """Instants ``[start_ms, end_ms)`` where the condition holds only thanks to the late
    event; ``end_ms`` is None when the run reaches the key's newest event (``top``)."""

    start_ms: int
    end_ms: int | None
    value: float | None
    end_value: float | None = None


def instants(entries: Sequence[tuple[Any, ...]], late_ms: int, top_ms: int, w: int) -> list[int]:
    """The instants to judge, from just before the late event to where it stops mattering.

    >>> instants([(0,), (5,), (16,)], 8, 16, 10)
    [7, 8, 10, 15, 16]
    """
    last = min(late_ms + w, top_ms)
    out = {late_ms - 1, late_ms, last}
    for e in entries:
        t = e[0]
        if late_ms <= t <= last:
            out.add(t)
        if late_ms <= t + w <= last:
            out.add(t + w)
    return sorted(out)


def sweep(
    entries: Sequence[tuple[Any, ...]], late: tuple[Any, ...], points: list[int], judge: Judge
) -> list[tuple[int, bool, bool, float | None]]:
    """``(t, held before, holds now, value now)`` at each instant of ``points`` (sorted),
    over ``entries`` (sorted by time, without ``late``)."""
    agg, w = judge.agg, judge.window_ms
    old, new = agg.initialize(), agg.initialize()
    n_old = lo = hi = 0
    late_in = False
    out = []
    for t in points:
        while hi < len(entries) and entries[hi][0] <= t:
            old, new = agg.add(old, entries[hi][1]), agg.add(new, entries[hi][1])
            hi, n_old = hi + 1, n_old + 1
        while lo < hi and entries[lo][0] <= t - w:
            old, new = agg.remove(old, entries[lo][1]), agg.remove(new, entries[lo][1])
            lo, n_old = lo + 1, n_old - 1
        inside = t - w < late[0] <= t
        if inside != late_in:
            new = agg.add(new, late[1]) if inside else agg.remove(new, late[1])
            late_in = inside
        was = judge.holds(agg.result(old), n_old, t)
        value = agg.result(new)
        out.append((t, was, judge.holds(value, n_old + late_in, t), value))
    return out


def added_runs(
    entries: Sequence[tuple[Any, ...]], late: tuple[Any, ...], top_ms: int, judge: Judge
) -> tuple[list[Run], bool]:
    """The runs the late event creates (see the module docstring), and whether the
    condition now holds at ``top`` in a run that touches an instant where it held already
    (an episode that had closed goes on). ``entries``: the key's kept events, sorted,
    without the late one."""
    rows = sweep(entries, late, instants(entries, late[0], top_ms, judge.window_ms), judge)
    runs: list[Run] = []
    start: tuple[int, float | None] | None = None
    touched = rows[0][1]  # the instant just before the late event already held
    for t, was, now, value in rows[1:]:
        if now:
            touched = touched or was
            if start is None:
                start = (t, value)
            continue
        if start is not None and not touched:
            runs.append(Run(start[0], t, start[1], value))
        start, touched = None, False
    at_top = start is not None and rows[-1][0] == top_ms and not rows[-1][1]
    if start is not None and not touched:
        runs.append(Run(start[0], None, start[1]))
    return runs, at_top and touched


def on_late(
    w: WindowedEvaluator, key: str, win: Window, ev: Event, entry: tuple[Any, ...]
) -> list[Hit] | None:
    """An event older than the key's newest: insert it at its time, judge the windows that
    now hold it, fire (and with ``resolve`` close) the episodes it creates, let an episode
    it joins go on, then judge the key's newest window again."""
    span, entries = w.window_ms, win.entries
    top, ts = entries[-1][0], entry[0]
    kept = [*win.past, *entries]
    win.since = min(win.since, ts)
    since = win.since + span if w.watched else -INF
    runs, goes_on = added_runs(
        kept, entry, top, Judge(w.agg, lambda v, n, t: t >= since and w.judged(v, n), span)
    )
    if ts > top - span:
        insort(entries, entry, key=_ts)
        w.agg.add(win.acc, entry[1])
    else:
        insort(win.past, entry, key=_ts)
    hits: list[Hit] = []
    rows = sorted([*kept, entry], key=_ts)
    for run in runs:
        level = RANK[w.rule.severity_for(run.value)]
        hits.append(hit_at(w, key, ev, run.start_ms, "fired", run.value, run.start_ms, rows))
        if run.end_ms is None:
            win.episode, win.level = run.start_ms, level
            continue
        if w.rule.resolve:
            end, value = run.end_ms, run.end_value
            hits.append(hit_at(w, key, ev, end, "resolved", value, run.start_ms, rows))
        if win.closed is None or run.end_ms > win.closed[1]:
            win.closed = (run.start_ms, run.end_ms, level)
    if goes_on and win.episode is None and win.closed is not None:
        win.episode, win.level = win.closed[0], win.closed[2]  # the closed episode goes on
    found = w.decide(key, win, top)
    if found:
        hits.extend(found)
    if w.stepwise:
        due = entries[0][0] + span + 1
        if due < win.due:
            win.due = due
            w.timers.push(due, key)
    return hits or None


def hit_at(
    w: WindowedEvaluator,
    key: str,
    ev: Event,
    t: int,
    stage: str,
    value: float | None,
    episode: int,
    rows: list[tuple[Any, ...]],
) -> Hit:
    """A hit for the window ending at ``t``, a past instant (a late event's)."""
    inside = [e for e in rows if t - w.window_ms < e[0] <= t]
    top = None
    if w.top_fields:
        top = top_values((e[3] for e in inside), w.top_fields, w.rule.output.top_n)
    evidence = tuple(e[2] for e in inside[-EVIDENCE_MAX:])
    window = (t - w.window_ms, t)
    return Hit(key, t, stage, episode, w.capture.capture(ev), value, window, evidence, top=top)


def _ts(entry: tuple[Any, ...]) -> Any:
    return entry[0]


__all__ = ["Judge", "Run", "added_runs", "hit_at", "instants", "on_late", "sweep"]
