"""The simulator's shared state: one seeded RNG, the clock, the city, and the event sink.

Every generator module writes through :class:`Sim`, which builds envelope dicts, gives them
unique ids drawn from the seeded RNG, drops anything outside the simulated period and keeps
the ground-truth labels of the injected scenarios.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

from replay.sim_city import District, build_city
from replay.sim_time import SimClock

SOURCES = {
    "application.submitted": "provincial-portal",
    "application.accepted": "approval-system",
    "application.decided": "approval-system",
    "hotline.ticket": "12345-hotline",
    "data.access": "data-sharing-platform",
}
REGULATORY_SOURCE = "regulatory-platform"


class Sim:
    """Mutable state of one generation run (not thread-safe, not reused)."""

    def __init__(self, seed: int, days: int, start: str, scale: float) -> None:
        if scale <= 0:
            raise ValueError(f"scale must be positive, got {scale}")
        self.rng = random.Random(seed)
        self.clock = SimClock(start, days)
        self.scale = scale
        self.city: dict[str, District] = build_city(self.rng, scale)
        self.rows: list[tuple[int, int, dict[str, Any]]] = []
        self.labels: list[tuple[int, dict[str, Any]]] = []
        # (applicant, item) -> submissions so far: normal applicants stay at <= 2.
        self.submissions: Counter[tuple[str, str]] = Counter()
        # The enterprise register: settlement account by enterprise, deregistered enterprises.
        self.accounts: dict[str, str] = {}
        self.deregistered: set[str] = set()
        self._ids: set[str] = set()
        self._counters: Counter[str] = Counter()

    @property
    def end_s(self) -> int:
        """End of the simulated period (exclusive), in simulator seconds."""
        return self.clock.end_s

    def serial(self, prefix: str, region: str) -> str:
        """A readable business id unique in this run, e.g. ``A-330106-000042``."""
        self._counters[prefix] += 1
        return f"{prefix}-{region}-{self._counters[prefix]:06d}"

    def _event_id(self) -> str:
        while True:
            value = f"evt-{self.rng.getrandbits(64):016x}"
            if value not in self._ids:
                self._ids.add(value)
                return value

    def emit(
        self,
        t: int,
        etype: str,
        region: str,
        department: str,
        entity: tuple[str, str],
        attrs: dict[str, Any],
        *,
        stream: str = "service",
        source: str | None = None,
    ) -> bool:
        """Record one event at simulator time ``t``; False (nothing kept) outside the period."""
        if not 0 <= t < self.end_s:
            return False
        event = {
            "id": self._event_id(),
            "type": etype,
            "stream": stream,
            "ts": self.clock.iso(t),
            "source": source or SOURCES.get(etype, REGULATORY_SOURCE),
            "region": region,
            "department": department,
            "entity": {"kind": entity[0], "id": entity[1]},
            "attrs": attrs,
        }
        self.rows.append((t, len(self.rows), event))
        return True

    def label(
        self,
        scenario: str,
        key: str,
        start: int,
        end: int,
        region: str,
        note: str,
        regions: list[str] | None = None,
    ) -> None:
        """Record the ground truth of one injected scenario instance (``regions``: every
        district of a cross-district one)."""
        row: dict[str, Any] = {
            "scenario": scenario,
            "key": key,
            "start": self.clock.iso(start),
            "end": self.clock.iso(end),
            "region": region,
            "note": note,
        }
        if regions is not None:
            row["regions"] = list(regions)
        self.labels.append((start, row))

    def instances(self, low: int, high: int) -> int:
        """How many instances of a scenario: ``low..high`` per week, in proportion to the days."""
        per_week = self.rng.randint(low, high)
        return max(1, round(per_week * self.clock.days / 7))

    def spread_regions(self, n: int) -> list[str]:
        """``n`` region codes, cycling through a shuffled list so instances cover every district."""
        regions = list(self.city)
        self.rng.shuffle(regions)
        return [regions[i % len(regions)] for i in range(n)]
