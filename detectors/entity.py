"""Per-entity baselines: one small model per key (an official, a staff account), so a key is
judged against its own history, with bounded memory.

- :class:`ProfileDetector` (``profile``): a behaviour profile, a forgetting mean and
  variance per feature; the score is the Mahalanobis distance with a diagonal covariance
  (the root of the summed squared z-scores), so several features each a little off add up.
  About 40 bytes per feature pickled.
- :class:`EntityBaselines`: a model per key made by name from the registry, plus one
  population model that learns from every key and scores a key until its own model has
  ``warmup`` samples (a new official is compared with everyone until they have a history).
  Keys idle for ``idle_ms`` of event time are dropped; beyond ``max_keys`` the least
  recently seen key is evicted. :meth:`EntityBaselines.snapshot` and
  :meth:`EntityBaselines.restore` keep it across restarts without re-learning.

Examples:
    >>> eb = EntityBaselines("profile", warmup=5)
    >>> t = 1772413200000
    >>> for i in range(50):
    ...     eb.learn_one("quiet", {"count_1h": 1.0 + i % 2}, t + i * 60_000)
    ...     eb.learn_one("busy", {"count_1h": 30.0 + i % 5}, t + i * 60_000)
    >>> eb.score_one("quiet", {"count_1h": 30.0}) > 10 > eb.score_one("busy", {"count_1h": 30.0})
    True
    >>> clone = EntityBaselines.restore(eb.snapshot())
    >>> clone.score_one("quiet", {"count_1h": 30.0}) == eb.score_one("quiet", {"count_1h": 30.0})
    True
"""

from __future__ import annotations

import math
import pickle
from array import array
from collections import OrderedDict
from typing import Any

from detectors.base import MAX_FEATURES, Detector, numeric_features
from detectors.registry import make

MAX_SCORE = 1e12
DAY_MS = 86_400_000
DAYS = ("all", "apart", "rest")  # one profile, or rest days apart (and alone scored)
REST = "rest:"  # the prefix of a feature's rest-day profile


class ProfileDetector:
    """Diagonal-covariance Mahalanobis distance to a forgetting profile; higher = more
    anomalous (``sqrt(sum z_i**2)``); ``0.0`` until a feature has ``warmup`` samples.

    A feature's spread is floored at ``rel_floor`` times its mean's magnitude and at
    ``min_std``, so a feature that has been constant scores a change against its own size.

    ``direction`` makes a feature one-sided: ``high`` scores only values above the profile's
    mean (a count that falls, a quiet day, scores 0), ``low`` only values below it, ``both``
    (the default) either way. One word for every feature, or a mapping of feature names to
    words (``{count_1d: high}``) where a feature not named scores both ways.

    ``counts=True`` also floors the spread at the root of the mean, as a Poisson count's is
    (three times a usual 2 a day is chance, three times a usual 20 is not). ``clip`` bounds
    what one sample teaches: once a feature is scored, a value further than ``clip`` spreads
    from the mean is learned as if it were ``clip`` spreads away, so the first events of a
    burst that stays under the threshold do not make the rest of it look usual (0: off).

    ``days`` reads the sample's ``is_workday`` (0 on a rest day: a weekend or a holiday of
    the statutory calendar): ``apart`` keeps a profile of rest days apart from that of
    working days and judges each sample by its own kind of day, ``rest`` does the same but
    scores rest-day samples only (``all``, the default, has one profile). A rest-day profile
    with fewer than ``warmup`` samples of a key whose working-day profile is established is
    quiet: its missing samples count as zeros, so the key's first rest-day activity is
    judged against none.

    Parameters:
        window: effective memory in samples (a new sample weighs at least ``1 / window``).
        warmup: samples of a feature before it is scored.
        rel_floor: the least spread, as a share of the mean's magnitude.
        min_std: the least spread, in the feature's units.
        direction: ``both``, ``high`` or ``low``, or a mapping of feature names to them.
        clip: the most spreads one learned sample moves the profile (0: no bound).
        counts: floor the spread at the root of the mean too.
        days: ``all``, ``apart`` or ``rest`` (see above).

    Examples:
        >>> det = ProfileDetector(warmup=3)
        >>> for v in (4.0, 6.0, 4.0, 6.0):
        ...     det.learn_one({"a": v, "b": 10.0})
        >>> det.score_features({"a": 7.0, "b": 10.0})
        {'a': 2.0, 'b': 0.0}
        >>> det.score_one({"a": 7.0, "b": 12.0})  # sqrt(2**2 + (2 / 1.0)**2)
        2.8284271247461903
        >>> high = ProfileDetector(warmup=3, direction={"a": "high"})
        >>> for v in (4.0, 6.0, 4.0, 6.0):
        ...     high.learn_one({"a": v, "b": 10.0})
        >>> high.score_features({"a": 3.0, "b": 8.0})  # a fell: not scored; b both ways
        {'a': 0.0, 'b': 2.0}
    """

    def __init__(
        self,
        window: int = 500,
        warmup: int = 10,
        rel_floor: float = 0.1,
        min_std: float = 0.5,
        direction: str | dict[str, str] = "both",
        clip: float = 0.0,
        counts: bool = False,
        days: str = "all",
    ) -> None:
        for name, value in (("window", window), ("warmup", warmup)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
        for label, number in (("rel_floor", rel_floor), ("min_std", min_std)):
            if isinstance(number, bool) or not isinstance(number, int | float) or not number > 0:
                raise ValueError(f"{label} must be a number > 0, got {number!r}")
        if isinstance(clip, bool) or not isinstance(clip, int | float) or not clip >= 0:
            raise ValueError(f"clip must be a number >= 0 (0: off), got {clip!r}")
        if not isinstance(counts, bool):
            raise ValueError(f"counts must be true or false, got {counts!r}")
        if days not in DAYS:
            raise ValueError(f"days must be all, apart or rest, got {days!r}")
        self.clip, self.counts, self.days = float(clip), counts, days
        self.window, self.warmup = window, warmup
        self.rel_floor, self.min_std = float(rel_floor), float(min_std)
        self.direction = direction_of(direction)
        self._sides = _sides(self.direction)
        self._stats: dict[str, array[float]] = {}  # name -> [n, mean, var]

    def __repr__(self) -> str:
        direction = "" if self.direction == "both" else f", direction={self.direction!r}"
        clip = f", clip={self.clip}" if self.clip else ""
        counts = ", counts=True" if self.counts else ""
        counts += f", days={self.days!r}" if self.days != "all" else ""
        return (
            f"ProfileDetector(window={self.window}, warmup={self.warmup}, "
            f"rel_floor={self.rel_floor}, min_std={self.min_std}{direction}{clip}{counts})"
        )

    def learn_one(self, x: dict[str, float]) -> None:
        """Update each feature's forgetting mean and variance (of its kind of day)."""
        clean = numeric_features(x)
        rest = self._rest_day(clean)
        for name, value in clean.items():
            name = REST + name if rest else name
            st = self._stats.get(name)
            if st is None:
                if len(self._stats) >= MAX_FEATURES:
                    continue
                st = self._stats[name] = array("d", (0.0, 0.0, 0.0))
            n = st[0] + 1
            alpha = max(1.0 / n, 1.0 / self.window)
            diff = value - st[1]
            if self.clip and st[0] >= self.warmup:  # a burst moves the profile by a bounded step
                bound = self.clip * self._spread(st)
                diff = bound if diff > bound else -bound if diff < -bound else diff
            st[0], st[1] = n, st[1] + alpha * diff
            st[2] = (1.0 - alpha) * (st[2] + alpha * diff * diff)

    def _rest_day(self, clean: dict[str, float]) -> bool:
        """Whether the sample is of a rest day and rest days are kept apart; takes the day's
        kind out of the features when they are."""
        if self.days == "all":
            return False
        return clean.pop("is_workday", 1.0) < 0.5

    def _profile(self, name: str, rest: bool) -> array[float] | None:
        """The feature's profile for the sample's kind of day (a quiet one, see the class)."""
        if not rest:
            return self._stats.get(name)
        st, working = self._stats.get(REST + name), self._stats.get(name)
        young = st is None or st[0] < self.warmup
        if young and working is not None and working[0] >= self.warmup:  # the rest were zeros
            share = st[0] / self.warmup if st else 0.0
            mean, square = (st[1], st[2] + st[1] * st[1]) if st else (0.0, 0.0)
            return array("d", (self.warmup, share * mean, share * square - (share * mean) ** 2))
        return st

    def _spread(self, st: array[float]) -> float:
        spread = max(math.sqrt(st[2]), self.rel_floor * abs(st[1]), self.min_std)
        return max(spread, math.sqrt(abs(st[1]))) if self.counts else spread

    def score_features(self, x: dict[str, float]) -> dict[str, float]:
        """Each scored feature's |z| against the profile."""
        out: dict[str, float] = {}
        default, sides = self._sides
        clean = numeric_features(x)
        rest = self._rest_day(clean)
        if self.days == "rest" and not rest:
            return out
        for name, value in clean.items():
            st = self._profile(name, rest)
            if st is None or st[0] < self.warmup:
                continue
            spread = self._spread(st)
            sign = sides.get(name, default) if sides else default
            off = abs(value - st[1]) if sign == 0 else max((value - st[1]) * sign, 0.0)
            out[name] = min(off / spread, MAX_SCORE)
        return out

    def score_one(self, x: dict[str, float]) -> float:
        """``sqrt(sum z**2)`` over the scored features of ``x``."""
        return min(math.sqrt(sum(z * z for z in self.score_features(x).values())), MAX_SCORE)

    def __getstate__(self) -> dict[str, Any]:
        params: tuple[Any, ...] = (self.window, self.warmup, self.rel_floor, self.min_std)
        later: tuple[Any, ...] = (self.direction, self.clip, self.counts, self.days)
        while later and later[-1] in (
            "both",
            0.0,
            False,
            "all",
        ):  # defaults left out: bytes per key
            later = later[:-1]
        params += later
        return {"p": params, "s": {k: v.tobytes() for k, v in self._stats.items()}}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.window, self.warmup, self.rel_floor, self.min_std, *later = state["p"]
        later += ["both", 0.0, False, "all"][len(later) :]  # saved before these existed
        self.direction, self.clip, self.counts, self.days = later
        self._sides = _sides(self.direction)
        self._stats = {k: array("d", v) for k, v in state["s"].items()}


DIRECTIONS = {"both": 0.0, "high": 1.0, "low": -1.0}
_SHARED: dict[
    tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]
] = {}  # one object per distinct direction: pickled once for many keys


def direction_of(value: Any) -> str | tuple[tuple[str, str], ...]:
    """``value`` checked: a word of :data:`DIRECTIONS`, or a mapping of feature names to
    them (returned as sorted pairs); ValueError naming what is wrong.

    Examples:
        >>> direction_of({"count_1d": "high"})
        (('count_1d', 'high'),)
        >>> direction_of("up")
        Traceback (most recent call last):
        ...
        ValueError: direction must be both, high or low, or a mapping of features to them \
(like {count_1d: high}), got 'up'
    """
    words = ", ".join(list(DIRECTIONS)[:-1]) + f" or {list(DIRECTIONS)[-1]}"
    hint = f"direction must be {words}, or a mapping of features to them (like {{count_1d: high}})"
    if isinstance(value, str) and value in DIRECTIONS:
        return value
    if isinstance(value, tuple) and all(isinstance(p, tuple) and len(p) == 2 for p in value):
        value = dict(value)  # a restored or already checked direction
    if not isinstance(value, dict) or not value:
        raise ValueError(f"{hint}, got {value!r}")
    for name, word in value.items():
        if not isinstance(name, str) or not isinstance(word, str) or word not in DIRECTIONS:
            raise ValueError(f"{hint}, got {name!r}: {word!r}")
    pairs = tuple(sorted((str(k), str(v)) for k, v in value.items()))
    return _SHARED.setdefault(pairs, pairs)


def _sides(direction: Any) -> tuple[float, dict[str, float]]:
    """(the sign for features not named, {feature: sign}); 0 scores both ways."""
    if isinstance(direction, str):
        return DIRECTIONS[direction], {}
    return 0.0, {name: DIRECTIONS[word] for name, word in direction}


class EntityBaselines:
    """One model per key of detector ``name`` (with ``params``), a population model, idle
    expiry and a cap (see the module).

    ``score_one(key, x)`` never learns; ``learn_one(key, x, ts_ms)`` teaches the key's model
    and the population's and marks the key seen at ``ts_ms`` (event time), expiring keys
    idle for ``idle_ms`` before it.

    Examples:
        >>> eb = EntityBaselines("profile", max_keys=2)
        >>> for i, key in enumerate(["a", "b", "c"]):
        ...     eb.learn_one(key, {"v": 1.0}, 1_000 * i)
        >>> eb.keys()  # "a" was the least recently seen
        ['b', 'c']
        >>> eb.learn_one("d", {"v": 1.0}, 10 * DAY_MS)  # b and c idle for over a week
        >>> eb.keys()
        ['d']
    """

    def __init__(
        self,
        name: str = "profile",
        params: dict[str, Any] | None = None,
        *,
        warmup: int = 30,
        max_keys: int = 100_000,
        idle_ms: int = 7 * DAY_MS,
    ) -> None:
        for label, value in (("warmup", warmup), ("max_keys", max_keys), ("idle_ms", idle_ms)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{label} must be a whole number >= 1, got {value!r}")
        self.name, self.params = name, dict(params or {})
        self.warmup, self.max_keys, self.idle_ms = warmup, max_keys, idle_ms
        self.population: Detector = make(name, **self.params)
        # key -> [last seen ms, samples learned, model], least recently seen first
        self._keys: OrderedDict[str, list[Any]] = OrderedDict()

    def __repr__(self) -> str:
        return (
            f"EntityBaselines({self.name!r}, keys={len(self._keys)}, max_keys={self.max_keys}, "
            f"idle_ms={self.idle_ms})"
        )

    def keys(self) -> list[str]:
        """The keys with a model, least recently seen first.

        Examples:
            >>> EntityBaselines().keys()
            []
        """
        return list(self._keys)

    def model_of(self, key: str) -> Detector:
        """What scores ``key`` now: its own model once it has ``warmup`` samples, else the
        population's.

        Examples:
            >>> eb = EntityBaselines(warmup=1)
            >>> eb.model_of("new") is eb.population
            True
        """
        entry = self._keys.get(key)
        if entry is None or entry[1] < self.warmup:
            return self.population
        model: Detector = entry[2]
        return model

    def score_one(self, key: str, x: dict[str, float]) -> float:
        """The anomaly score of ``x`` for ``key`` (see :meth:`model_of`); does not learn."""
        return self.model_of(key).score_one(x)

    def learn_one(self, key: str, x: dict[str, float], ts_ms: int) -> None:
        """Teach ``key``'s model and the population ``x``, seen at ``ts_ms``."""
        entry = self._keys.pop(key, None)
        if entry is None:
            entry = [ts_ms, 0, make(self.name, **self.params)]
        entry[0] = max(entry[0], ts_ms)
        entry[1] += 1
        entry[2].learn_one(x)
        self.population.learn_one(x)
        self._keys[key] = entry
        self.expire(ts_ms)

    def expire(self, now_ms: int) -> int:
        """Drop keys idle since before ``now_ms - idle_ms`` and any beyond ``max_keys``;
        the number dropped.

        Examples:
            >>> eb = EntityBaselines(idle_ms=1000)
            >>> eb.learn_one("a", {"v": 1.0}, 0)
            >>> eb.expire(999), eb.expire(1001)
            (0, 1)
        """
        dropped = 0
        while self._keys:
            key, entry = next(iter(self._keys.items()))
            if entry[0] >= now_ms - self.idle_ms and len(self._keys) <= self.max_keys:
                break
            del self._keys[key]
            dropped += 1
        return dropped

    def snapshot(self) -> bytes:
        """The whole state as bytes (pickle); only for the engine's own checkpoints.

        Examples:
            >>> type(EntityBaselines.restore(EntityBaselines().snapshot())).__name__
            'EntityBaselines'
        """
        return pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def restore(cls, blob: bytes) -> EntityBaselines:
        """Baselines from :meth:`snapshot` bytes; TypeError if they hold something else.

        Examples:
            >>> EntityBaselines.restore(pickle.dumps(1))
            Traceback (most recent call last):
            ...
            TypeError: snapshot holds a int, not EntityBaselines
        """
        obj = pickle.loads(blob)
        if not isinstance(obj, cls):
            raise TypeError(f"snapshot holds a {type(obj).__name__}, not EntityBaselines")
        return obj

    def bytes_per_key(self) -> float:
        """Pickled bytes of the per-key part divided by the number of keys (0 if none).

        Examples:
            >>> eb = EntityBaselines()
            >>> for i in range(100):
            ...     eb.learn_one(f"k{i}", {"count_1h": 3.0, "hour_sin": 0.5}, i)
            >>> eb.bytes_per_key() < 2048
            True
        """
        if not self._keys:
            return 0.0
        return len(pickle.dumps(self._keys, protocol=pickle.HIGHEST_PROTOCOL)) / len(self._keys)
