"""``threshold``: count or distinct values per group key over a sliding event-time window.

The window ending at time ``t`` holds the key's events with ``t - window_ms < ts <= t``.
A warning opens an *episode* when the condition starts to hold; it does not fire again
until the condition has stopped holding (the episode closes).
"""

from __future__ import annotations

import heapq
from bisect import insort
from collections import deque
from dataclasses import dataclass, field

from riskloop.events import Event, RiskWarning
from rules.kinds.common import RuleState, group_key, make_warning
from rules.model import Rule, ThresholdSpec

EVIDENCE_MAX = 20


@dataclass(slots=True)
class Window:
    """Per-key state: window entries (ts_ms, value, event id) in time order."""

    entries: deque[tuple[int, str, str]] = field(default_factory=deque)
    counts: dict[str, int] = field(default_factory=dict)
    episode_ms: int | None = None


def evict(win: Window, horizon_ms: int) -> None:
    """Drop entries at or before ``horizon_ms`` (free function, tested with integers).

    >>> w = Window(deque([(1, "a", "e1"), (5, "b", "e2"), (9, "a", "e3")]), {"a": 2, "b": 1})
    >>> evict(w, 5); [e[0] for e in w.entries], w.counts
    ([9], {'a': 1})
    """
    while win.entries and win.entries[0][0] <= horizon_ms:
        _, value, _ = win.entries.popleft()
        n = win.counts[value] - 1
        if n:
            win.counts[value] = n
        else:
            del win.counts[value]


COMPARE = {
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
    "eq": lambda a, b: a == b,
}


class ThresholdEvaluator:
    def __init__(self, rule: Rule) -> None:
        assert isinstance(rule.spec, ThresholdSpec)
        self.rule, self.spec = rule, rule.spec
        self.compare = COMPARE[rule.spec.comparator]
        self._expiry: list[tuple[int, str]] = []

    def selections(self) -> list:
        return [self.spec.match]

    def on_event(self, ev: Event, st: RuleState) -> list[RiskWarning]:
        spec = self.spec
        if not spec.match.matches(ev):
            return []
        key = group_key(self.rule, ev)
        if key is None:
            return []
        value = "" if spec.field is None else ev.get(spec.field)
        if value is None:
            return []
        win = st.keys.get(key)
        if win is None:
            win = Window()
            heapq.heappush(self._expiry, (ev.ts_ms + spec.window_ms, key))
        entry = (ev.ts_ms, str(value), ev.id)
        if win.entries and ev.ts_ms < win.entries[-1][0]:
            insort(win.entries, entry)
        else:
            win.entries.append(entry)
        win.counts[entry[1]] = win.counts.get(entry[1], 0) + 1
        end_ms = win.entries[-1][0]
        evict(win, end_ms - spec.window_ms)
        st.put(key, win)
        return self._decide(key, win, ev, end_ms)

    def _decide(self, key: str, win: Window, ev: Event, end_ms: int) -> list[RiskWarning]:
        n = len(win.entries)
        agg = float(n if self.spec.aggregate == "count" else len(win.counts))
        holds = n >= self.spec.min_events and self.compare(agg, self.spec.limit)
        if not holds:
            win.episode_ms = None
            return []
        if win.episode_ms is not None:
            return []
        win.episode_ms = ev.ts_ms
        evidence = tuple(e[2] for e in list(win.entries)[-EVIDENCE_MAX:])
        return [
            make_warning(
                self.rule,
                key,
                ts_ms=ev.ts_ms,
                region=ev.region,
                department=ev.department,
                stage="fired",
                episode_ms=ev.ts_ms,
                value=agg,
                window=(end_ms - self.spec.window_ms, end_ms),
                evidence=evidence,
            )
        ]

    def on_watermark(self, wm_ms: int, st: RuleState) -> list[RiskWarning]:
        """Forget keys whose window emptied before the watermark (bounded memory)."""
        heap = self._expiry
        while heap and heap[0][0] <= wm_ms:
            _, key = heapq.heappop(heap)
            win = st.keys.get(key)
            if win is None:
                continue
            expires = win.entries[-1][0] + self.spec.window_ms if win.entries else 0
            if expires <= wm_ms:
                st.drop(key)
            else:
                heapq.heappush(heap, (expires, key))
        return []

    def rebuild(self, st: RuleState) -> None:
        self._expiry = [
            (w.entries[-1][0] + self.spec.window_ms if w.entries else 0, k)
            for k, w in st.keys.items()
        ]
        heapq.heapify(self._expiry)
