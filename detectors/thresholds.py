"""Deciding, separate from scoring: a score is anomalous when it tops the recent quantile.

A fixed ``score > 0.8`` means something different for every detector, feature set and
data volume. :class:`AdaptiveThreshold` instead flags the top ``1 - q`` tail of the scores
it has seen recently, so the same rule file works for any detector and follows drift.

The engine's loop, per event (what is flagged is not learned as normal)::

    score = detector.score_one(x)
    flagged = threshold.classify(score)
    if not (flagged and key_in_cooldown):  # a burst counts once
        threshold.update(score)
    if not flagged:
        detector.learn_one(x)
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left, insort


class AdaptiveThreshold:
    """Flags scores above the ``q``-quantile of the last ``window`` scores.

    ``classify`` is ``False`` during warm-up (fewer than ``min_samples`` scores seen) and
    never learns; ``update`` records a score. ``value`` is the current threshold (``None``
    during warm-up): the nearest-rank ``q``-quantile of the window, so a score must be
    strictly greater to be flagged and, on a steady stream, about ``1 - q`` of scores are.

    ``min_score`` is an optional floor in the detector's own units (a z-score for
    ``gaussian``): a score below it is never flagged, however quiet the recent past was.
    The quantile alone always flags about ``1 - q`` of a steady stream; the floor keeps
    ordinary days from firing at that rate.

    ``window`` defaults to ``max(min_samples, ceil(25 / (1 - q)))`` scores: 5,000 for
    ``q=0.995``, so 25 of them lie above the threshold. The state is two arrays of that
    many floats (~80 KB pickled at 5,000) and never grows.

    Examples:
        >>> thr = AdaptiveThreshold(q=0.9, min_samples=10)
        >>> for s in range(10):
        ...     thr.update(float(s))
        >>> thr.value
        8.0
        >>> thr.classify(8.0), thr.classify(8.5)
        (False, True)
        >>> AdaptiveThreshold(min_samples=200).classify(1e9)  # warm-up
        False
        >>> floored = AdaptiveThreshold(q=0.9, min_samples=10, min_score=9.0)
        >>> for s in range(10):
        ...     floored.update(float(s))
        >>> floored.classify(8.5), floored.classify(9.0)
        (False, True)
    """

    min_score: float | None = None  # class default, for thresholds saved before it existed

    def __init__(
        self,
        q: float = 0.995,
        min_samples: int = 200,
        window: int | None = None,
        min_score: float | None = None,
    ):
        if isinstance(q, bool) or not isinstance(q, int | float) or not 0.0 < q < 1.0:
            raise ValueError(
                f"q must be a quantile strictly between 0 and 1, like 0.995; got {q!r}"
            )
        if isinstance(min_samples, bool) or not isinstance(min_samples, int) or min_samples < 1:
            raise ValueError(f"min_samples must be a whole number >= 1, got {min_samples!r}")
        if window is None:
            window = max(min_samples, math.ceil(25 / (1.0 - q)))
        if isinstance(window, bool) or not isinstance(window, int) or window < min_samples:
            raise ValueError(f"window must be a whole number >= min_samples, got {window!r}")
        if min_score is not None and (
            isinstance(min_score, bool)
            or not isinstance(min_score, int | float)
            or math.isnan(min_score)
        ):
            raise ValueError(f"min_score must be a number or None, got {min_score!r}")
        self.q = float(q)
        self.min_samples = min_samples
        self.min_score = None if min_score is None else float(min_score)
        self.window = window
        self.n_seen = 0
        self._ring = array("d")  # the last `window` scores in arrival order, from _head on
        self._head = 0
        self._sorted = array("d")  # the same scores, ascending

    def __repr__(self) -> str:
        return (
            f"AdaptiveThreshold(q={self.q}, min_samples={self.min_samples}, "
            f"window={self.window}, min_score={self.min_score}, n_seen={self.n_seen}, "
            f"value={self.value})"
        )

    @property
    def value(self) -> float | None:
        """The current threshold (nearest-rank q-quantile of the window); None in warm-up."""
        n = len(self._sorted)
        if self.n_seen < self.min_samples or n == 0:
            return None
        rank = min(n, max(1, math.ceil(self.q * n - 1e-9)))  # 1e-9: float noise
        return self._sorted[rank - 1]

    def classify(self, score: float) -> bool:
        """True if ``score`` is above the current threshold and not below ``min_score``;
        False in warm-up or for NaN."""
        if self.min_score is not None and not score >= self.min_score:
            return False
        return self.above_quantile(score)

    def above_quantile(self, score: float) -> bool:
        """True if ``score`` is above the current quantile, whatever ``min_score`` says: what
        the detector should not learn as normal (a tail below the floor stays out too)."""
        threshold = self.value
        return threshold is not None and score > threshold

    def update(self, score: float) -> None:
        """Record a score; non-finite scores are ignored (they say nothing about the tail)."""
        if not math.isfinite(score):
            return
        score = float(score)
        if len(self._ring) < self.window:
            self._ring.append(score)
        else:
            oldest = self._ring[self._head]
            del self._sorted[bisect_left(self._sorted, oldest)]
            self._ring[self._head] = score
            self._head = (self._head + 1) % self.window
        insort(self._sorted, score)
        self.n_seen += 1
