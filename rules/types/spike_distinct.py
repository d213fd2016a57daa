"""``spike`` with ``distinct``: distinct values of a field in the window against a reference.

``distinct: attrs.citizen`` counts the distinct citizens an account read in the window
(not its reads: one case worker opening one file twenty times is one citizen), and the
reference is the distinct count of the same windows ``period`` earlier, as for a count.

State per key, bounded by the window: the values themselves only for the last
``2 x window / step`` buckets (what the current window and an event up to a window late
need), and for every older bucket of the history one number, the distinct count of the
window that ends with it. So a key costs its current window's distinct values plus one
integer per bucket of history, however many it read a week ago. An event more than a
window late is counted as a value the window had not seen.

Examples:
    >>> from rules import RuleSet
    >>> from rules.engine.engine import Engine
    >>> from rules.language.model import parse_rule
    >>> from envelope.build import EventMaker
    >>> make_event = EventMaker()
    >>> rule = parse_rule('''
    ... id: reading
    ... title: an account reads many more citizens than it did the hour before
    ... type: spike
    ... match: {type: data.access}
    ... group_by: [attrs.account]
    ... distinct: attrs.citizen
    ... window: 1h
    ... condition: {ratio_gte: 3, current_gte: 6, reference_gte: 1}
    ... ''', "r.yaml")
    >>> eng = Engine(RuleSet([rule]), lateness_ms=0)
    >>> T0 = 1772413200000  # 2026-03-02 09:00 (UTC+8)
    >>> def read(minute, citizen):
    ...     return eng.process(make_event(ts_ms=T0 + minute * 60_000, type="data.access",
    ...                                   account="a1", citizen=citizen))
    >>> [w for m, c in ((-60, "c0"), (-50, "c1"), *((m, "c2") for m in range(0, 40, 5)))
    ...  for w in read(m, c)]  # eight reads of one citizen are one: no spike (a count spikes)
    []
    >>> [(w.ts_ms - T0) // 60_000 for m in range(60, 66) for w in read(m, f"n{m}")]
    [64]
    >>> [(w.value, w.details["reference"]) for w in read(66, "n66")]  # the same episode
    []
    >>> {k: v for k, v in eng.state_of("reading", "a1").items() if k in ("current", "reference")}
    {'current': 8, 'reference': 1}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from envelope.events import Event
from envelope.paths import getter
from envelope.time import CST_OFFSET_MS
from rules.engine.timers import Timers
from rules.language.model import Rule
from rules.types.aggregates import bucket_of
from rules.types.common import Hit, RuleState
from rules.types.spike import Counts, SpikeEvaluator, SpikeSpec


@dataclass(slots=True)
class DistinctCounts(Counts):
    """``buckets``: the distinct count of the window ending with each bucket (up to the
    key's newest); ``seen``: the values of each recent bucket."""

    seen: dict[int, set[str]] = field(default_factory=dict)


def value_function(path: str) -> Any:
    """The field's value as text, or None when the event lacks it.

    >>> from envelope.build import EventMaker
    >>> get = value_function("attrs.citizen")
    >>> get(EventMaker()(ts_ms=0, citizen=7)), get(EventMaker()(ts_ms=0))
    ('7', None)
    """
    get = getter(path)

    def text(ev: Event) -> str | None:
        v = get(ev)
        return None if v is None else v if isinstance(v, str) else str(v)

    return text


class DistinctEvaluator(SpikeEvaluator):
    """A spike rule on the distinct values of ``distinct`` in each window."""

    def __init__(self, rule: Rule, timers: Timers) -> None:
        super().__init__(rule, timers)
        assert isinstance(self.spec, SpikeSpec) and self.spec.distinct is not None
        self.value_of = value_function(self.spec.distinct)
        self._slides = False
        self.span = 2 * self.nb - 1  # buckets of values kept, ending with the newest

    def on_event(self, ev: Event, st: RuleState) -> list[Hit] | None:
        key = self.key_of(ev)
        if key is None:
            return None
        counts = st.keys.get(key)
        if counts is None:
            counts = st.keys[key] = DistinctCounts(first=ev.ts_ms)
        elif ev.ts_ms < counts.first:
            counts.first = ev.ts_ms
        st.dirty.add(key)
        assert isinstance(counts, DistinctCounts)
        b = bucket_of(ev.ts_ms, self.spec.step_ms, CST_OFFSET_MS)
        newest = self._newest_bucket(counts)
        if newest is None or b > newest:
            self._advance(counts, newest, b)
            newest = b
        value = self.value_of(ev)
        if value is not None:
            self._add(counts, b, newest, value)
        if ev.ts_ms >= counts.newest:
            counts.newest, counts.last = ev.ts_ms, self.capture.row(ev)
        self.prune(key, counts)
        hits = self.evaluate(key, counts, max(counts.newest, ev.ts_ms))
        self._schedule(key, counts)
        return hits

    def _newest_bucket(self, counts: Counts) -> int | None:
        if counts.last is None:
            return None
        return bucket_of(counts.newest, self.spec.step_ms, CST_OFFSET_MS)

    def _advance(self, counts: DistinctCounts, old: int | None, new: int) -> None:
        """The key's newest bucket moves from ``old`` to ``new``: fix the distinct counts of
        the windows ending in between (from the values kept), forget values no longer needed."""
        if old is not None:
            for end in range(old + 1, min(new, old + self.nb)):
                self._store(counts, end, self.window_distinct(counts, end, old))
        self._store(counts, new, self.window_distinct(counts, new, old))
        for b in [b for b in counts.seen if b <= new - self.span]:
            del counts.seen[b]

    @staticmethod
    def _store(counts: Counts, end: int, n: int) -> None:
        if n:
            counts.buckets[end] = n

    def _add(self, counts: DistinctCounts, c: int, newest: int, value: str) -> None:
        """Count ``value`` in bucket ``c``: one more in each window up to the newest that
        holds ``c`` and no other bucket with the same value."""
        seen = counts.seen.setdefault(c, set())
        if value in seen:
            return
        seen.add(value)
        nb = self.nb
        before = next(
            (p for p in range(c - 1, c - nb, -1) if value in counts.seen.get(p, ())), None
        )
        after = next((n for n in range(c + 1, c + nb) if value in counts.seen.get(n, ())), None)
        lo = c if before is None else max(c, before + nb)
        hi = min(c + nb - 1, newest, c + nb if after is None else after - 1)
        for end in range(lo, hi + 1):
            counts.buckets[end] = counts.buckets.get(end, 0) + 1
        if lo < newest:
            counts.cached = None  # a late value: a reference window may have changed

    def window_distinct(self, counts: Counts, end: int, newest: int | None) -> int:
        """Distinct values of the window ending with bucket ``end``: kept for a window that
        ends at or before the key's ``newest`` bucket, counted from the values after it."""
        if newest is not None and end <= newest:
            return counts.buckets.get(end, 0)
        seen = getattr(counts, "seen", {})
        values: set[str] = set()
        for b in range(end - self.nb + 1, end + 1):
            values |= seen.get(b, set())
        return len(values)

    def measure(self, counts: Counts, t: int, key: str | None = None) -> tuple[int, float]:
        """(distinct values in the window that holds ``t``, the reference)."""
        b = bucket_of(t, self.spec.step_ms, CST_OFFSET_MS)
        newest = self._newest_bucket(counts)
        if counts.cached != b:  # the references change with the bucket, or a late value
            ends = range(b - self.pb, b - self.spec.periods * self.pb - 1, -self.pb)
            counts.ref = self.stat([self.window_distinct(counts, e, newest) for e in ends])
            counts.cached = b
        return self.window_distinct(counts, b, newest), counts.ref
