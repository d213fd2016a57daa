"""Event-time timers: a heap per rule, and one engine-wide heap of "rule N has something
due at T" so the engine wakes only the rules that have something due.

A rule's :class:`Timers` tells the engine's :class:`Wake` whenever its earliest due time
gets earlier; after the engine has run a rule's due timers it reports the rule's new
earliest time again (:meth:`Timers.report`). Stale wake entries only cost a no-op call.

Examples:
    >>> wake = Wake()
    >>> t = Timers(wake, owner=0)
    >>> t.push(50, "b"); t.push(20, "a")
    >>> wake.next_due, t.head()
    (20, 20)
    >>> wake.due_owners(30), t.pop_due(30), t.head()
    ([0], ['a'], 50)
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from typing import Any

INF = 2**62


class Wake:
    """The engine-wide heap of ``(due_ms, owner)``: which rule to wake, and when."""

    __slots__ = ("heap",)

    def __init__(self) -> None:
        self.heap: list[tuple[int, int]] = []

    @property
    def next_due(self) -> int:
        return self.heap[0][0] if self.heap else INF

    def add(self, due_ms: int, owner: int) -> None:
        heapq.heappush(self.heap, (due_ms, owner))

    def due_owners(self, wm_ms: int) -> list[int]:
        """Owners with something due at or before ``wm_ms``, each once, in owner order."""
        heap = self.heap
        if not heap or heap[0][0] > wm_ms:
            return []
        first = heapq.heappop(heap)[1]
        if not heap or heap[0][0] > wm_ms:  # the common case: one rule is due
            return [first]
        owners = {first}
        while heap and heap[0][0] <= wm_ms:
            owners.add(heapq.heappop(heap)[1])
        return sorted(owners)


class Timers:
    """A min-heap of ``(due_ms, item)``; items must be comparable (keys, tuples)."""

    __slots__ = ("heap", "wake", "owner")

    def __init__(self, wake: Wake, owner: int = 0) -> None:
        self.heap: list[tuple[int, Any]] = []
        self.wake = wake
        self.owner = owner

    def push(self, due_ms: int, item: Any) -> None:
        heap = self.heap
        if not heap or due_ms < heap[0][0]:
            self.wake.add(due_ms, self.owner)
        heapq.heappush(heap, (due_ms, item))

    def head(self) -> int:
        return self.heap[0][0] if self.heap else INF

    def report(self) -> None:
        """Tell the engine when this heap is next due (after its due items ran)."""
        if self.heap:
            self.wake.add(self.heap[0][0], self.owner)

    def pop_due(self, wm_ms: int) -> list[Any]:
        """Remove and return the items due at or before ``wm_ms``, earliest first."""
        out = []
        heap = self.heap
        while heap and heap[0][0] <= wm_ms:
            out.append(heapq.heappop(heap)[1])
        return out

    def pop_one(self, wm_ms: int) -> tuple[int, Any] | None:
        """The earliest due ``(due_ms, item)`` at or before ``wm_ms``, or None."""
        if self.heap and self.heap[0][0] <= wm_ms:
            return heapq.heappop(self.heap)
        return None

    def reset(self, entries: Iterable[tuple[int, Any]]) -> None:
        self.heap = list(entries)
        heapq.heapify(self.heap)
        self.report()

    def __len__(self) -> int:
        return len(self.heap)
