"""Per-key features on event time: what a detector sees of one event and its key's recent past.

Every feature is named in :data:`FEATURES`. A parameterised feature is written
``name:arg``, e.g. ``distinct_1h:attrs.citizen_id``. Time is an argument (``ts_ms``, the
event's own time), never the clock, so a replay computes the same features as the live run.
Local time is China Standard Time (UTC+8, no daylight saving) unless told otherwise.

Per-key state is a plain dict owned by the caller, one per group key, mutated by
:meth:`FeatureExtractor.extract`; it pickles small and stays bounded:

- ``"newest_ms"``: the key's newest event time;
- ``"times"``: ascending event times of the last hour, at most ``max_events``;
- ``"distinct"``: per field, ``{hex 64-bit hash of the value: last seen ms}``, at most
  ``max_distinct`` values, last hour only (hashes, not values: no personal data at rest);
- ``"hours"``: for the longer horizons, per counter (``""`` for events, a field for its
  distinct values) ``[[clock hour, count], ...]`` of the last 24 clock hours.

Only str keys, ints and lists: the state survives a JSON round trip as well as pickle.

Windows are the last hour *before and including* the event: ``(ts_ms - 1h, ts_ms]``.
They are exact for a key's events in time order; a late event sees what its key still
remembers (the state keeps only the hour before the key's newest event).

Examples:
    >>> from types import SimpleNamespace
    >>> ev = SimpleNamespace(get={"attrs.citizen": "c-1"}.get)
    >>> fx = FeatureExtractor(["hour_sin", "is_night", "count_1h", "distinct_1h:attrs.citizen"])
    >>> state = {}
    >>> x = fx.extract(state, 1772414100000, ev)   # 2026-03-02 09:15 +08:00, a Monday
    >>> {name: round(value, 4) for name, value in x.items()}
    {'hour_sin': 0.6593, 'is_night': 0.0, 'count_1h': 1.0, 'distinct_1h:attrs.citizen': 1.0}
    >>> fx.extract(state, 1772414160000, ev)["count_1h"]   # one minute later
    2.0
"""

from __future__ import annotations

import hashlib
import math
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from envelope.calendar import is_workday
from envelope.errors import UserError

SECOND_MS = 1_000
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
CST_OFFSET_MS = 8 * HOUR_MS  # China Standard Time, UTC+8
GAP_CAP_S = 7 * 86_400  # gaps are capped at a week; a key's first event counts as that
_THURSDAY = 3  # 1970-01-01, day 0 of the epoch, with Monday = 0


class EventLike(Protocol):
    """Anything with a dotted-path getter, like :class:`envelope.events.Event`.

    Examples:
        >>> from types import SimpleNamespace
        >>> ev = SimpleNamespace(get={"attrs.records": 12}.get)
        >>> FeatureExtractor(["value:attrs.records"]).extract({}, 1772414100000, ev)
        {'value:attrs.records': 12.0}
    """

    def get(self, path: str) -> Any: ...


class UnknownFeature(UserError, ValueError):
    """A feature name that is not in :data:`FEATURES` or misses/has an ``:arg``."""


@dataclass(frozen=True, slots=True)
class Observation:
    """What a feature function sees: the event, its times and its key's (updated) state.

    Examples:
        >>> obs = Observation(1772380800000, 1772409600000, None, {}, None)  # 00:00 +08:00
        >>> FEATURES["is_night"].compute(obs, "")
        1.0
    """

    ts_ms: int
    local_ms: int
    event: EventLike
    state: dict[str, Any]
    prev_ms: int | None  # the key's previous event time at or before ts_ms, if remembered


@dataclass(frozen=True, slots=True)
class Feature:
    """One named feature: ``compute(obs, arg)`` gives a float, or None to leave it out.

    Examples:
        >>> FEATURES["distinct_1h"].arg, FEATURES["distinct_1h"].uses_values
        ('field', True)
        >>> FEATURES["count_1h"].help
        'events of this key in the last hour, this one included'
    """

    compute: Callable[[Observation, str], float | None]
    help: str
    arg: str | None = None  # name of the ``:arg`` it takes, e.g. "field"; None if none
    uses_times: bool = False  # needs the key's event times of the last hour
    uses_values: bool = False  # needs the key's distinct values of <arg> in the last hour
    uses_hours: bool = False  # needs the key's counts per clock hour (8 h and 1 d horizons)


def _hour(obs: Observation) -> float:
    return (obs.local_ms % DAY_MS) / HOUR_MS


def _hour_sin(obs: Observation, arg: str) -> float:
    return math.sin(2 * math.pi * _hour(obs) / 24)


def _hour_cos(obs: Observation, arg: str) -> float:
    return math.cos(2 * math.pi * _hour(obs) / 24)


def _is_night(obs: Observation, arg: str) -> float:
    return 1.0 if obs.local_ms % DAY_MS < 6 * HOUR_MS else 0.0


def _is_weekend(obs: Observation, arg: str) -> float:
    weekday = (obs.local_ms // DAY_MS + _THURSDAY) % 7
    return 1.0 if weekday >= 5 else 0.0


def _hour_of_day(obs: Observation, arg: str) -> float:
    return float((obs.local_ms % DAY_MS) // HOUR_MS)


def _is_workday(obs: Observation, arg: str) -> float:
    return 1.0 if is_workday(obs.ts_ms) else 0.0


def _count_1h(obs: Observation, arg: str) -> float:
    times = obs.state["times"]
    n = bisect_right(times, obs.ts_ms) - bisect_right(times, obs.ts_ms - HOUR_MS)
    return float(max(n, 1))  # a late event that fell out of the state still counts itself


def _gap_log_s(obs: Observation, arg: str) -> float:
    if obs.prev_ms is None:
        return math.log1p(GAP_CAP_S)
    return math.log1p(min((obs.ts_ms - obs.prev_ms) / SECOND_MS, GAP_CAP_S))


def _distinct_1h(obs: Observation, arg: str) -> float:
    start = obs.ts_ms - HOUR_MS
    return float(sum(1 for t in obs.state["distinct"][arg].values() if t > start))


def _hours_sum(hours: int) -> Callable[[Observation, str], float]:
    """Events (or, with a field, distinct values per clock hour) in the last ``hours`` clock
    hours, the current one included."""

    def compute(obs: Observation, arg: str) -> float:
        now = obs.ts_ms // HOUR_MS
        rows = obs.state.get("hours", {}).get(arg, ())
        return float(max(1, sum(n for h, n in rows if now - hours < h <= now)))

    return compute


def _value(obs: Observation, arg: str) -> float | None:
    v = obs.event.get(arg)
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        return None
    return float(v)


FEATURES: dict[str, Feature] = {
    "hour_sin": Feature(_hour_sin, "sin(2π·h/24) of the local hour of day h (fractional)"),
    "hour_cos": Feature(_hour_cos, "cos(2π·h/24) of the local hour of day h (fractional)"),
    "is_night": Feature(_is_night, "1 from 00:00 to 06:00 local time, else 0"),
    "is_weekend": Feature(_is_weekend, "1 on Saturday and Sunday local time, else 0"),
    "hour_of_day": Feature(_hour_of_day, "the local hour of day, 0 to 23 (whole hours)"),
    "is_workday": Feature(
        _is_workday, "1 on a working day of the statutory calendar (make-up days too), else 0"
    ),
    "count_1h": Feature(
        _count_1h, "events of this key in the last hour, this one included", uses_times=True
    ),
    "gap_log_s": Feature(
        _gap_log_s,
        "log1p(seconds since this key's previous event), capped at a week",
        uses_times=True,
    ),
    "distinct_1h": Feature(
        _distinct_1h,
        "distinct values of <field> for this key in the last hour, this one included",
        arg="field",
        uses_values=True,
    ),
    "count_8h": Feature(
        _hours_sum(8),
        "events of this key in the last 8 clock hours, this one's included",
        uses_hours=True,
    ),
    "count_1d": Feature(
        _hours_sum(24),
        "events of this key in the last 24 clock hours, this one's included",
        uses_hours=True,
    ),
    "distinct_8h": Feature(
        _hours_sum(8),
        "distinct values of <field> per clock hour, summed over the last 8 clock hours "
        "(a value seen in two hours counts in each)",
        arg="field",
        uses_values=True,
        uses_hours=True,
    ),
    "value": Feature(_value, "the numeric value of <field>; left out if absent", arg="field"),
}


def known_features() -> list[str]:
    """Feature names as a rule author writes them, sorted.

    Examples:
        >>> known_features()[:3]
        ['count_1d', 'count_1h', 'count_8h']
    """
    return sorted(f"{name}:<{f.arg}>" if f.arg else name for name, f in FEATURES.items())


def parse_feature(name: str) -> tuple[Feature, str]:
    """The :class:`Feature` and its argument (``""`` if none) for ``name`` or ``name:arg``.

    Examples:
        >>> parse_feature("distinct_1h:attrs.citizen")[1]
        'attrs.citizen'
        >>> parse_feature("distinct_1h")  # doctest: +NORMALIZE_WHITESPACE
        Traceback (most recent call last):
        ...
        detectors.features.UnknownFeature: feature 'distinct_1h' needs a field:
            write 'distinct_1h:<field>', like 'distinct_1h:attrs.citizen_id'
    """
    base, sep, arg = str(name).partition(":")
    feature = FEATURES.get(base)
    if feature is None:
        known = ", ".join(known_features())
        raise UnknownFeature(f"unknown feature {name!r}: known features are {known}")
    if feature.arg and not arg:
        raise UnknownFeature(
            f"feature {base!r} needs a {feature.arg}: write '{base}:<{feature.arg}>', "
            f"like '{base}:attrs.citizen_id'"
        )
    if not feature.arg and sep:
        raise UnknownFeature(f"feature {base!r} takes no argument: write {base!r}")
    return feature, arg


def _positive(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
    return value


def _digest(value: Any) -> str:
    """A stable 64-bit hash of a value, as hex (not Python's salted ``hash``; JSON-safe)."""
    text = value if isinstance(value, str) else str(value)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def _remember_time(state: dict[str, Any], ts_ms: int, max_events: int) -> int | None:
    """Insert ``ts_ms`` into the key's times; return the previous time at or before it."""
    times: list[int] = state.setdefault("times", [])
    i = bisect_right(times, ts_ms)
    prev = times[i - 1] if i else None
    times.insert(i, ts_ms)
    cut = max(bisect_right(times, times[-1] - HOUR_MS), len(times) - max_events)
    if cut > 0:
        del times[:cut]
    return prev


def _remember_value(
    state: dict[str, Any], field: str, value: Any, ts_ms: int, max_distinct: int
) -> bool:
    """Mark ``value`` of ``field`` seen at ``ts_ms``; forget the expired and the excess.
    True when the value is new in the clock hour of ``ts_ms``."""
    seen: dict[str, int] = state.setdefault("distinct", {}).setdefault(field, {})
    horizon = state["newest_ms"] - HOUR_MS
    new = False
    if value is not None and ts_ms > horizon:
        h = _digest(value)
        before = seen.pop(h, None)  # re-inserted last: dict order ~ last-seen order
        new = before is None or before // HOUR_MS != ts_ms // HOUR_MS
        seen[h] = ts_ms if before is None else max(before, ts_ms)
    while seen:
        oldest = next(iter(seen))
        if seen[oldest] > horizon and len(seen) <= max_distinct:
            break
        del seen[oldest]
    return new


def _count_hour(state: dict[str, Any], counter: str, ts_ms: int) -> None:
    """Add one to ``counter``'s clock hour of ``ts_ms``; keep the last 24 clock hours."""
    rows: list[list[int]] = state.setdefault("hours", {}).setdefault(counter, [])
    hour = ts_ms // HOUR_MS
    for row in rows:
        if row[0] == hour:
            row[1] += 1
            break
    else:
        rows.append([hour, 1])
        rows.sort()
    newest = state["newest_ms"] // HOUR_MS
    while rows and rows[0][0] <= newest - 24:
        del rows[0]


class FeatureExtractor:
    """Computes the named features of one event for one key, updating that key's state.

    ``names`` are entries of :data:`FEATURES` (``name`` or ``name:arg``); an unknown one
    raises :class:`UnknownFeature` naming the known ones. ``extract`` returns the
    features in the order named; a feature with no value (``value:<field>`` on an event
    without that field) is left out. ``count_1h`` saturates at ``max_events`` and
    ``distinct_1h`` at ``max_distinct``: the bounds of the per-key state.

    Examples:
        >>> from types import SimpleNamespace
        >>> fx = FeatureExtractor(["count_1h", "gap_log_s", "is_weekend"])
        >>> state, ev = {}, SimpleNamespace(get=lambda path: None)
        >>> fx.extract(state, 1772327700000, ev)   # Sunday 2026-03-01 09:15 +08:00
        {'count_1h': 1.0, 'gap_log_s': 13.312654757285246, 'is_weekend': 1.0}
        >>> fx.extract(state, 1772327790000, ev)   # 90 s later: log1p(90)
        {'count_1h': 2.0, 'gap_log_s': 4.51085950651685, 'is_weekend': 1.0}
        >>> FeatureExtractor(["count_24h"])  # doctest: +NORMALIZE_WHITESPACE
        Traceback (most recent call last):
        ...
        detectors.features.UnknownFeature: unknown feature 'count_24h': known features are
            count_1d, count_1h, count_8h, distinct_1h:<field>, distinct_8h:<field>, gap_log_s,
            hour_cos, hour_of_day, hour_sin, is_night, is_weekend, is_workday, value:<field>
    """

    def __init__(
        self,
        names: list[str],
        *,
        max_events: int = 1000,
        max_distinct: int = 1000,
        utc_offset_ms: int = CST_OFFSET_MS,
    ) -> None:
        if isinstance(names, str):
            raise UnknownFeature(f"features must be a list of names, like [{names!r}]")
        self.names = list(dict.fromkeys(names))
        self._plan = [(name, *parse_feature(name)) for name in self.names]
        self.max_events = _positive("max_events", max_events)
        self.max_distinct = _positive("max_distinct", max_distinct)
        if isinstance(utc_offset_ms, bool) or not isinstance(utc_offset_ms, int):
            raise ValueError(f"utc_offset_ms must be whole milliseconds, got {utc_offset_ms!r}")
        self.utc_offset_ms = utc_offset_ms
        self._uses_times = any(f.uses_times for _, f, _ in self._plan)
        self._fields = list(dict.fromkeys(arg for _, f, arg in self._plan if f.uses_values))
        self._hourly = {arg for _, f, arg in self._plan if f.uses_hours}
        self._steps = [(name, f.compute, arg) for name, f, arg in self._plan]

    def __repr__(self) -> str:
        return f"FeatureExtractor({self.names!r})"

    def extract(self, key_state: dict[str, Any], ts_ms: int, event: EventLike) -> dict[str, float]:
        """The features of ``event`` at event time ``ts_ms``; updates ``key_state`` in place."""
        newest = key_state.get("newest_ms")
        key_state["newest_ms"] = ts_ms if newest is None else max(newest, ts_ms)
        prev = _remember_time(key_state, ts_ms, self.max_events) if self._uses_times else None
        if "" in self._hourly:
            _count_hour(key_state, "", ts_ms)
        for field in self._fields:
            new = _remember_value(key_state, field, event.get(field), ts_ms, self.max_distinct)
            if new and field in self._hourly:
                _count_hour(key_state, field, ts_ms)
        obs = Observation(ts_ms, ts_ms + self.utc_offset_ms, event, key_state, prev)
        out: dict[str, float] = {}
        for name, compute, arg in self._steps:
            value = compute(obs, arg)
            if value is not None:
                out[name] = value
        return out
