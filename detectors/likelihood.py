"""Anomaly likelihood: any detector's raw score turned into a probability-like score in [0, 1]
that means the same thing on every stream.

Raw scores are not comparable: a z-score of 40 is ordinary on a byte counter that is mostly 0
and extraordinary on a temperature. The likelihood asks instead "how unusual is the recent
raw score *for this stream*": it keeps the stream's own (log-compressed) raw scores over a
long window and places the newest in their upper tail; with ``short`` above 1 it keeps the
means of the last ``short`` raw scores instead and places the newest mean among them (like
with like: a mean varies less than one score, so a stretch of somewhat high scores stands
out against past means where no single one stands out against past scores), after
the idea Numenta published for its anomaly benchmark (Ahmad et al., 2017), with empirical
quantiles instead of a fitted normal. One threshold (``0.9999``) then works for any detector
and stream.

Guards: ``min_spread`` floors the history's spread (a stream whose raw scores have been
exactly flat does not turn its first small wobble into a certainty), and the likelihood is
``0.5`` (no opinion) until ``warmup`` raw scores have been seen.

Memory: two arrays of ``long`` floats; cost O(log n) plus a small memmove per score.

Examples: see :class:`AnomalyLikelihood`.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left, insort
from collections import deque
from functools import lru_cache
from statistics import NormalDist

_SQRT_HALF = math.sqrt(0.5)


@lru_cache(maxsize=4096)
def _z_of(n: int) -> float:
    """The normal quantile of ``1 - 1/n``, the highest a history of ``n`` vouches for."""
    return NormalDist().inv_cdf(1.0 - 1.0 / n)


def _whole(name: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be a whole number >= {low}, got {value!r}")
    return value


class AnomalyLikelihood:
    """How far the recent raw score lies in the upper tail of the stream's own raw scores,
    as a normal tail probability.

    The history's median maps to 0.5 and its ``q_ref`` quantile to the normal quantile of
    ``q_ref`` (3.09 standard deviations for 0.999), linearly in log1p of the raw score: a
    stream whose raw scores are often large (bursty counters) needs a much larger one to
    look unusual than a quiet stream does. Empirical quantiles, not a fitted normal, because
    raw scores are heavy-tailed mixtures (mostly zero, sometimes huge).

    While the history holds fewer than ``1 / (1 - q_ref)`` scores, the highest quantile it
    can vouch for, ``1 - 1/n``, takes the place of ``q_ref``.

    Parameters:
        short: raw scores averaged for the "recent" score, the history holding such
            means (1: each score on its own).
        long: raw scores kept as the stream's history.
        warmup: raw scores before any opinion (until then ``update`` returns 0.5).
        q_ref: the reference upper quantile of the history.
        min_spread: floor of (quantile - median), in log1p units of the raw score.

    Examples:
        >>> lk = AnomalyLikelihood(short=1, long=100, warmup=10)
        >>> calm = [lk.update(0.5 + 0.1 * (i % 3)) for i in range(60)]
        >>> max(calm[10:]) < 0.999
        True
        >>> lk.update(25.0) > 0.9999
        True
        >>> import random
        >>> rng = random.Random(5)
        >>> one, mean = AnomalyLikelihood(), AnomalyLikelihood(short=6)
        >>> for _ in range(1000):
        ...     raw = abs(rng.gauss(0, 1))
        ...     _ = one.update(raw), mean.update(raw)
        >>> stretch = [(one.update(2.5), mean.update(2.5)) for _ in range(6)]  # 2.5 six times
        >>> max(o for o, _ in stretch) < 0.999 < 0.9999 < stretch[-1][1]
        True
    """

    def __init__(
        self,
        short: int = 1,
        long: int = 2000,
        warmup: int = 100,
        q_ref: float = 0.999,
        min_spread: float = 0.25,
    ) -> None:
        self.short = _whole("short", short, 1)
        self.long = _whole("long", long, 2)
        self.warmup = _whole("warmup", warmup, 1)
        if isinstance(q_ref, bool) or not isinstance(q_ref, int | float) or not 0.5 < q_ref < 1:
            raise ValueError(f"q_ref must be a number between 0.5 and 1, got {q_ref!r}")
        if isinstance(min_spread, bool) or not isinstance(min_spread, int | float):
            raise ValueError(f"min_spread must be a number > 0, got {min_spread!r}")
        if not min_spread > 0:
            raise ValueError(f"min_spread must be a number > 0, got {min_spread!r}")
        self.q_ref = float(q_ref)
        self.min_spread = float(min_spread)
        self._z_ref = NormalDist().inv_cdf(self.q_ref)
        self.n_seen = 0
        self._ring = array("d")
        self._head = 0
        self._sorted = array("d")
        self._recent: deque[float] = deque(maxlen=self.short)

    def __repr__(self) -> str:
        return (
            f"AnomalyLikelihood(short={self.short}, long={self.long}, warmup={self.warmup}, "
            f"q_ref={self.q_ref}, min_spread={self.min_spread})"
        )

    def score(self, raw: float) -> float:
        """The likelihood of ``raw`` as the newest raw score, without recording it."""
        if self.n_seen < self.warmup or not math.isfinite(raw):
            return 0.5
        return self._likelihood(self._mean_with(math.log1p(raw) if raw > 0.0 else 0.0))

    def _likelihood(self, recent: float) -> float:
        hist = self._sorted
        n = len(hist)
        median = hist[n // 2]
        if n * (1.0 - self.q_ref) >= 1.0:
            ref, z_ref = hist[min(n - 1, int(self.q_ref * n))], self._z_ref
        else:  # a short history only vouches for a lower quantile
            q = 1.0 - 1.0 / n
            ref, z_ref = hist[min(n - 1, int(q * n))], _z_of(n)
        spread = ref - median
        z = z_ref * (recent - median) / (spread if spread > self.min_spread else self.min_spread)
        return 0.5 * math.erfc(-z * _SQRT_HALF)

    def update(self, raw: float) -> float:
        """Score ``raw`` (see :meth:`score`), then record it in the history."""
        if not math.isfinite(raw):
            return 0.5
        s = math.log1p(raw) if raw > 0.0 else 0.0
        mean = self._mean_with(s)
        out = self._likelihood(mean) if self.n_seen >= self.warmup else 0.5
        self._recent.append(s)
        self._record(mean)
        return out

    def _mean_with(self, s: float) -> float:
        """The mean of the newest ``short`` log raw scores, ``s`` being the newest."""
        if self.short == 1:
            return s
        recent = self._recent
        full = len(recent) == self.short
        total = sum(recent) - (recent[0] if full else 0.0)
        return (total + s) / (len(recent) + (0 if full else 1))

    def _record(self, s: float) -> None:
        if len(self._ring) < self.long:
            self._ring.append(s)
        else:
            del self._sorted[bisect_left(self._sorted, self._ring[self._head])]
            self._ring[self._head] = s
            self._head = (self._head + 1) % self.long
        insort(self._sorted, s)
        self.n_seen += 1
