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


class ProfileDetector:
    """Diagonal-covariance Mahalanobis distance to a forgetting profile; higher = more
    anomalous (``sqrt(sum z_i**2)``); ``0.0`` until a feature has ``warmup`` samples.

    A feature's spread is floored at ``rel_floor`` times its mean's magnitude and at
    ``min_std``, so a feature that has been constant scores a change against its own size.

    Parameters:
        window: effective memory in samples (a new sample weighs at least ``1 / window``).
        warmup: samples of a feature before it is scored.
        rel_floor: the least spread, as a share of the mean's magnitude.
        min_std: the least spread, in the feature's units.

    Examples:
        >>> det = ProfileDetector(warmup=3)
        >>> for v in (4.0, 6.0, 4.0, 6.0):
        ...     det.learn_one({"a": v, "b": 10.0})
        >>> det.score_features({"a": 7.0, "b": 10.0})
        {'a': 2.0, 'b': 0.0}
        >>> det.score_one({"a": 7.0, "b": 12.0})  # sqrt(2**2 + (2 / 1.0)**2)
        2.8284271247461903
    """

    def __init__(
        self, window: int = 500, warmup: int = 10, rel_floor: float = 0.1, min_std: float = 0.5
    ) -> None:
        for name, value in (("window", window), ("warmup", warmup)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
        for label, number in (("rel_floor", rel_floor), ("min_std", min_std)):
            if isinstance(number, bool) or not isinstance(number, int | float) or not number > 0:
                raise ValueError(f"{label} must be a number > 0, got {number!r}")
        self.window, self.warmup = window, warmup
        self.rel_floor, self.min_std = float(rel_floor), float(min_std)
        self._stats: dict[str, array[float]] = {}  # name -> [n, mean, var]

    def __repr__(self) -> str:
        return (
            f"ProfileDetector(window={self.window}, warmup={self.warmup}, "
            f"rel_floor={self.rel_floor}, min_std={self.min_std})"
        )

    def learn_one(self, x: dict[str, float]) -> None:
        """Update each feature's forgetting mean and variance."""
        for name, value in numeric_features(x).items():
            st = self._stats.get(name)
            if st is None:
                if len(self._stats) >= MAX_FEATURES:
                    continue
                st = self._stats[name] = array("d", (0.0, 0.0, 0.0))
            n = st[0] + 1
            alpha = max(1.0 / n, 1.0 / self.window)
            diff = value - st[1]
            st[0], st[1] = n, st[1] + alpha * diff
            st[2] = (1.0 - alpha) * (st[2] + alpha * diff * diff)

    def score_features(self, x: dict[str, float]) -> dict[str, float]:
        """Each scored feature's |z| against the profile."""
        out: dict[str, float] = {}
        for name, value in numeric_features(x).items():
            st = self._stats.get(name)
            if st is None or st[0] < self.warmup:
                continue
            spread = max(math.sqrt(st[2]), self.rel_floor * abs(st[1]), self.min_std)
            out[name] = min(abs(value - st[1]) / spread, MAX_SCORE)
        return out

    def score_one(self, x: dict[str, float]) -> float:
        """``sqrt(sum z**2)`` over the scored features of ``x``."""
        return min(math.sqrt(sum(z * z for z in self.score_features(x).values())), MAX_SCORE)

    def __getstate__(self) -> dict[str, Any]:
        params = (self.window, self.warmup, self.rel_floor, self.min_std)
        return {"p": params, "s": {k: v.tobytes() for k, v in self._stats.items()}}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.window, self.warmup, self.rel_floor, self.min_std = state["p"]
        self._stats = {k: array("d", v) for k, v in state["s"].items()}


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
