"""Which events an engine takes: bounds on event time, and each event id applied once.

One rule, shared by the live worker and the backtest (:meth:`Engine.admit`), checked in
this order before an event touches any state, the watermark included:

1. *too far in the future*: more than ``max_future_ms`` ahead of the wall clock (a clock
   or a typo: one such event would move its partition's watermark years ahead);
2. *too old*: more than ``max_age_ms`` (the state retention) before the wall clock;
3. *duplicate*: its id was already applied, and the watermark has not yet passed that
   event's time plus the dedup horizon (producers retry; delivery is at-least-once);
4. *too late*: before the engine's watermark, i.e. later than the lateness allows: what it
   could have changed has already fired.

Pure: the wall clock is the argument ``now_ms``; nothing here reads a clock.

Examples:
    >>> bounds = Bounds(max_future_ms=DAY_MS, max_age_ms=400 * DAY_MS)
    >>> now = 1772586000000  # 2026-03-04T09:00:00+08:00
    >>> classify(now, now, now - 300_000, bounds, lateness_ms=300_000).kind
    'ok'
    >>> classify(4070880000000, now, 0, bounds, lateness_ms=0).reason
    'too far in the future: 2099-01-01T00:00:00+08:00 is more than 1d ahead of the wall clock'
    >>> classify(-2209017600000, now, 0, bounds, lateness_ms=0).reason
    'too old: 1900-01-01T00:00:00+08:00 is more than 400d before the wall clock'
    >>> late = classify(now - 600_000, now, now - 300_000, bounds, lateness_ms=300_000)
    >>> late.reason.split(": ")[0], late.reason.split(" (")[1]
    ('too late by 5m', 'lateness 5m)')
    >>> classify(now, now, now, bounds, lateness_ms=0, seen_ms=now).kind
    'duplicate'
"""

from __future__ import annotations

import heapq
import pickle
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, NamedTuple

from envelope.time import DAY_MS, iso, show_duration
from rules.language.ruleset import RuleSet

if TYPE_CHECKING:
    from envelope.settings import Settings

OK, FUTURE, TOO_OLD, DUPLICATE, TOO_LATE = "ok", "future", "too_old", "duplicate", "too_late"
SEEN_PREFIX = "seen:"
NO_WATERMARK = -(2**62)  # to judge the event-time bounds alone: nothing is late against it
SEEN_BUCKET_MS = 3_600_000  # seen ids are kept (and checkpointed) per hour of event time
# What a rule's spec holds state for: the longest of them bounds how long an id matters.
REACH_FIELDS = ("window_ms", "lookback_ms", "within_ms", "history_ms")
# The default horizon follows the rules' reach up to this: producers retry and consumers
# replay within minutes or hours, and a year of ids (a 365-day lookback) would hold every id
# of a busy partition in memory and in its checkpoints.
MAX_DEFAULT_DEDUP_MS = 7 * DAY_MS


class Admission(NamedTuple):
    """What to do with an event: ``kind`` is one of ok, future, too_old, duplicate,
    too_late; ``reason`` says why in words (empty when ok)."""

    kind: str
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.kind == OK


ADMITTED = Admission(OK)


@dataclass(frozen=True)
class Bounds:
    """How far from the wall clock an event may be, and how long its id is remembered
    (``dedup_horizon_ms``; None: the rule set's longest reach, at most 7 days, plus the
    lateness)."""

    max_future_ms: int = DAY_MS
    max_age_ms: int = 400 * DAY_MS
    dedup_horizon_ms: int | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Bounds:
        """``RISKLOOP_MAX_FUTURE_SKEW_MS``, ``RISKLOOP_STATE_RETENTION_DAYS`` and
        ``RISKLOOP_DEDUP_HORIZON_MS``.

        >>> from envelope.settings import Settings
        >>> Bounds.from_settings(Settings(state_retention_days=2, dedup_horizon_ms=0))
        Bounds(max_future_ms=86400000, max_age_ms=172800000, dedup_horizon_ms=0)
        """
        return cls(
            max_future_ms=settings.max_future_skew_ms,
            max_age_ms=settings.state_retention_days * DAY_MS,
            dedup_horizon_ms=settings.dedup_horizon_ms,
        )


def shown(ts_ms: int) -> str:
    """An instant as text, even one China Standard Time cannot write (past year 9999).

    >>> shown(4070880000000), shown(253402300799000)
    ('2099-01-01T00:00:00+08:00', '9999-12-31T23:59:59Z')
    """
    try:
        return iso(ts_ms)
    except (OverflowError, ValueError, OSError):
        pass
    try:
        return datetime.fromtimestamp(ts_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, ValueError, OSError):
        return f"epoch ms {ts_ms}"


def _span(ms: int) -> str:
    return show_duration(ms) if ms > 0 else "0s"


def classify(
    ts_ms: int,
    now_ms: int,
    watermark_ms: int,
    bounds: Bounds,
    *,
    lateness_ms: int,
    seen_ms: int | None = None,
    age_from_ms: int | None = None,
) -> Admission:
    """The admission of an event at ``ts_ms``, given the wall clock ``now_ms``, the engine's
    ``watermark_ms`` and, when its id was applied before and is still remembered, the time
    ``seen_ms`` of that event. Age is measured from ``age_from_ms`` when given (a backtest of
    an old file measures it from the file's own newest time), else from ``now_ms``. Exactly at
    a bound is inside it:

    >>> b = Bounds(max_future_ms=1000, max_age_ms=5000)
    >>> [classify(t, 10_000, 0, b, lateness_ms=0).kind for t in (11_000, 11_001, 5000, 4999)]
    ['ok', 'future', 'ok', 'too_old']
    >>> [classify(t, 10_000, 8000, b, lateness_ms=2000).kind for t in (8000, 7999)]
    ['ok', 'too_late']
    """
    if ts_ms - now_ms > bounds.max_future_ms:
        ahead = _span(bounds.max_future_ms)
        return Admission(
            FUTURE,
            f"too far in the future: {shown(ts_ms)} is more than {ahead} ahead of the wall clock",
        )
    age_from = now_ms if age_from_ms is None else age_from_ms
    if age_from - ts_ms > bounds.max_age_ms:
        age, ref = (
            _span(bounds.max_age_ms),
            "the wall clock" if age_from_ms is None else "the newest event",
        )
        return Admission(TOO_OLD, f"too old: {shown(ts_ms)} is more than {age} before {ref}")
    if seen_ms is not None:
        return Admission(DUPLICATE, f"duplicate of the event at {shown(seen_ms)} already applied")
    if ts_ms < watermark_ms:
        return Admission(
            TOO_LATE,
            f"too late by {_span(watermark_ms - ts_ms)}: {shown(ts_ms)} is before the watermark"
            f" {shown(watermark_ms)} (lateness {_span(lateness_ms)})",
        )
    return ADMITTED


def reach_ms(ruleset: RuleSet) -> int:
    """The longest window, lookback, ``within`` or reference history of the enabled rules:
    how far back an event can still change what a rule holds."""
    longest = 0
    for rule in ruleset.rules:
        if not rule.enabled:
            continue
        for name in REACH_FIELDS:
            value = getattr(rule.spec, name, None)
            if isinstance(value, int) and value > longest:
                longest = value
    return longest


class SeenIds:
    """Ids of applied events, each with its event time, until the watermark passes that
    time plus ``horizon_ms``. Kept per hour of event time, so whole hours expire at once and
    a checkpoint rewrites only the hours that changed.

    >>> seen = SeenIds(horizon_ms=3_600_000)
    >>> seen.applied("a", 0); seen.applied("b", 7_200_000)
    >>> seen.seen_at("a", watermark_ms=3_600_000), seen.seen_at("a", watermark_ms=3_600_001)
    (0, None)
    >>> seen.expire(7_200_000); len(seen)
    1
    """

    __slots__ = ("horizon_ms", "_ts", "_hours", "_order", "_dirty")

    def __init__(self, horizon_ms: int) -> None:
        self.horizon_ms = horizon_ms
        self._ts: dict[str, int] = {}  # id -> event time of the event applied last
        self._hours: dict[int, list[str]] = {}  # hour of event time -> ids applied in it
        self._order: list[int] = []  # heap of the hours held
        self._dirty: set[int] = set()

    def __len__(self) -> int:
        return len(self._ts)

    def seen_at(self, event_id: str, watermark_ms: int) -> int | None:
        """When the event ``event_id`` applied was, if it is still within the horizon."""
        ts = self._ts.get(event_id)
        if ts is None or ts + self.horizon_ms < watermark_ms:
            return None
        return ts

    def applied(self, event_id: str, ts_ms: int) -> None:
        self._ts[event_id] = ts_ms
        hour = ts_ms // SEEN_BUCKET_MS
        ids = self._hours.get(hour)
        if ids is None:
            ids = self._hours[hour] = []
            heapq.heappush(self._order, hour)
        ids.append(event_id)
        self._dirty.add(hour)

    def expire(self, watermark_ms: int) -> None:
        """Forget the hours whose every id the watermark has passed by the horizon."""
        order = self._order
        while order and (order[0] + 1) * SEEN_BUCKET_MS + self.horizon_ms <= watermark_ms:
            hour = heapq.heappop(order)
            for event_id in self._hours.pop(hour):
                ts = self._ts.get(event_id)
                if ts is not None and ts // SEEN_BUCKET_MS == hour:
                    del self._ts[event_id]
            self._dirty.add(hour)

    def _entries(self, hour: int) -> list[tuple[str, int]]:
        ts = self._ts
        return [
            (i, ts[i])
            for i in self._hours.get(hour, ())
            if i in ts and ts[i] // SEEN_BUCKET_MS == hour
        ]

    def export_dirty(self) -> Iterator[tuple[str, bytes | None]]:
        """``(key, pickled ids of that hour or None)`` for every hour changed since last."""
        for hour in sorted(self._dirty):
            entries = self._entries(hour) if hour in self._hours else []
            yield f"{SEEN_PREFIX}{hour}", pickle.dumps(entries, protocol=5) if entries else None
        self._dirty.clear()

    def restore(self, key: str, blob: bytes | None) -> None:
        """Load one hour written by :meth:`export_dirty` (None: an hour forgotten)."""
        if blob is None:
            return
        entries: Iterable[tuple[str, int]] = pickle.loads(blob)
        for event_id, ts in entries:
            if ts >= self._ts.get(event_id, ts):
                self.applied(event_id, ts)
        self._dirty.discard(int(key[len(SEEN_PREFIX) :]))
