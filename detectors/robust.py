"""``robust``: per-feature median and interquartile range over a rolling window; the score is
the largest robust z-score.

A median and an IQR are not moved by a few extreme values, so one burst cannot hide the next
(the Gaussian's variance can), and the window forgets: a level that persists for more than
half the window *is* the median, so a lasting shift is learned as the new normal after a
bounded time (``window / 2`` samples) instead of staying anomalous for good.

Scale guards, so that the score means "this far from normal, in this stream's own spread":

- the spread is ``IQR / 1.349`` (the standard deviation of a normal distribution with that
  IQR), but never below ``rel_floor`` times the median's magnitude or the window's
  half-range, nor below ``min_scale``; a stream that has been flat scores a change against
  its own magnitude, not against a zero spread;
- values are scored only once a feature has been seen ``warmup`` times.

State per feature: two arrays of at most ``window`` floats (about 16 bytes a sample).

Examples: see :class:`RobustDetector`.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left, insort
from typing import Any

from detectors.base import MAX_FEATURES, numeric_features

# A score is capped here so it stays finite whatever the input magnitudes.
MAX_SCORE = 1e12
IQR_TO_SIGMA = 1.349


def _positive(name: str, value: Any, *, whole: bool) -> Any:
    ok_type = isinstance(value, int) if whole else isinstance(value, int | float)
    if isinstance(value, bool) or not ok_type or not math.isfinite(value) or value <= 0:
        kind = "a whole number" if whole else "a number"
        raise ValueError(f"{name} must be {kind} > 0, got {value!r}")
    return value


class _Window:
    """The last ``size`` values in arrival order and the same values sorted."""

    __slots__ = ("ring", "head", "sorted")

    def __init__(self) -> None:
        self.ring = array("d")
        self.head = 0
        self.sorted = array("d")

    def add(self, value: float, size: int) -> None:
        if len(self.ring) < size:
            self.ring.append(value)
        else:
            oldest = self.ring[self.head]
            del self.sorted[bisect_left(self.sorted, oldest)]
            self.ring[self.head] = value
            self.head = (self.head + 1) % size
        insort(self.sorted, value)

    def __getstate__(self) -> tuple[bytes, int, bytes]:
        return self.ring.tobytes(), self.head, self.sorted.tobytes()

    def __setstate__(self, state: tuple[bytes, int, bytes]) -> None:
        ring, self.head, srt = state
        self.ring, self.sorted = array("d"), array("d")
        self.ring.frombytes(ring)
        self.sorted.frombytes(srt)


class RobustDetector:
    """Largest per-feature ``|x - median| / spread`` over a rolling window of ``window``
    samples; higher score = more anomalous, in robust standard deviations; ``0.0`` until a
    feature has ``warmup`` samples.

    Parameters:
        window: samples kept per feature (the memory; a persisting level is normal after
            ``window / 2`` of them).
        warmup: samples of a feature before it is scored.
        rel_floor: the spread is at least this share of the median's magnitude and of the
            window's half-range.
        min_scale: the spread's absolute floor, in the feature's units.

    Examples:
        >>> det = RobustDetector(window=50, warmup=10)
        >>> for v in [10.0, 11.0, 9.0, 10.5, 9.5] * 4:
        ...     det.learn_one({"v": v})
        >>> det.score_one({"v": 10.2}) < 1.0 < 10.0 < det.score_one({"v": 30.0})
        True
        >>> det.score_one({"v": 30.0, "new": 5.0, "text": "x"}) == det.score_one({"v": 30.0})
        True
    """

    def __init__(
        self,
        window: int = 300,
        warmup: int = 30,
        rel_floor: float = 0.02,
        min_scale: float = 1e-6,
    ) -> None:
        self.window = int(_positive("window", window, whole=True))
        self.warmup = int(_positive("warmup", warmup, whole=True))
        self.rel_floor = float(_positive("rel_floor", rel_floor, whole=False))
        self.min_scale = float(_positive("min_scale", min_scale, whole=False))
        if self.warmup > self.window:
            raise ValueError(f"warmup must be at most window ({window}), got {warmup}")
        self._windows: dict[str, _Window] = {}

    def __repr__(self) -> str:
        return (
            f"RobustDetector(window={self.window}, warmup={self.warmup}, "
            f"rel_floor={self.rel_floor}, min_scale={self.min_scale})"
        )

    def learn_one(self, x: dict[str, float]) -> None:
        """Add each numeric feature of ``x`` to its window."""
        for name, value in numeric_features(x).items():
            w = self._windows.get(name)
            if w is None:
                if len(self._windows) >= MAX_FEATURES:
                    continue
                w = self._windows[name] = _Window()
            w.add(value, self.window)

    def score_one(self, x: dict[str, float]) -> float:
        """Largest robust |z| over the known features of ``x``; higher = more anomalous."""
        return max(self.score_features(x).values(), default=0.0)

    def score_features(self, x: dict[str, float]) -> dict[str, float]:
        """Each known feature's robust |z| (capped at ``MAX_SCORE``); young ones left out.

        Examples:
            >>> det = RobustDetector(window=20, warmup=5)
            >>> for v in [1.0, 2.0, 3.0, 2.0, 1.0, 3.0]:
            ...     det.learn_one({"a": v, "b": 10 * v})
            >>> {k: round(z, 2) for k, z in det.score_features({"a": 2.0, "b": 50.0}).items()}
            {'a': 0.0, 'b': 2.02}
        """
        out: dict[str, float] = {}
        windows, warmup = self._windows, self.warmup
        for name, value in numeric_features(x).items():
            w = windows.get(name)
            if w is None:
                continue
            s = w.sorted
            n = len(s)
            if n < warmup:
                continue
            mid = n // 2
            median = s[mid] if n % 2 else (s[mid - 1] + s[mid]) / 2
            spread = (s[(3 * n) // 4] - s[n // 4]) / IQR_TO_SIGMA
            floor = self.rel_floor * max(abs(median), (s[-1] - s[0]) / 2)
            if floor < self.min_scale:
                floor = self.min_scale
            z = abs(value - median) / (spread if spread > floor else floor)
            out[name] = z if z < MAX_SCORE else MAX_SCORE
        return out
