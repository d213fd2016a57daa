"""``seasonal``: counts against their own rhythm, the hour of day on working days and on
holidays apart.

Each sample names its place in the week with two features the feature extractor computes
from the event time: ``hour_of_day`` (0-23, local) and ``is_workday`` (the statutory
calendar: a holiday Tuesday counts as a rest day, a make-up Saturday as a working day). That
gives 48 buckets. Every other numeric feature (``count_1h``, ``distinct_1h:...``) keeps a
forgetting mean and variance per bucket, and the score is the largest

    |x - mean_bucket| / sqrt(var_bucket + prior)

where ``prior`` (default 0.1) is a count's least variance, so an hour that has always been
empty scores one event at about 3 and five at about 16. A bucket seen fewer than ``warmup``
times borrows the feature's overall mean and variance. Without ``hour_of_day`` every
sample falls in one bucket.

Events, not clock hours, feed an ``anomaly`` rule: an hour in which nothing ever happens
never teaches its bucket that it is empty. With ``quiet_after`` (a number of samples), once
a feature has been seen that often on working days (or on rest days), a bucket of that kind
of day still younger than ``warmup`` is taken as quiet: its missing samples count as zeros,
so the first decisions ever made at 22:00 score against an empty hour, not against the
day's average, while the first weekend of a fresh deployment is not yet judged so.

river's ``stats.EWMean``/``EWVar`` are the same estimates, but 48 of them per feature pickle
to tens of kilobytes; here a bucket is three floats in one ``array`` (24 bytes), so one
count feature costs about 1.2 KB: small enough to keep one model per key.

Examples:
    >>> det = SeasonalDetector()
    >>> for day in range(10):  # office hours busy, evenings empty
    ...     for hour in range(24):
    ...         busy = 9 <= hour < 18
    ...         det.learn_one({"hour_of_day": hour, "is_workday": 1, "count_1h": 10.0 * busy})
    >>> det.score_one({"hour_of_day": 22, "is_workday": 1, "count_1h": 4.0}) > 10
    True
    >>> det.score_one({"hour_of_day": 10, "is_workday": 1, "count_1h": 10.0})
    0.0
"""

from __future__ import annotations

import math
from array import array
from typing import Any

from detectors.base import numeric_features

BUCKETS = 48
MAX_COUNTED = 16  # counted features followed (about 1.2 KB each); later new names are ignored
CONTEXT = ("hour_of_day", "is_workday", "hour_sin", "hour_cos", "is_night", "is_weekend")
MAX_SCORE = 1e12


def _bucket(x: dict[str, float]) -> int:
    hour = x.get("hour_of_day")
    if hour is None:
        return 0
    rest = 24 if x.get("is_workday", 1.0) < 0.5 else 0
    return rest + int(hour) % 24


class SeasonalDetector:
    """Largest per-feature distance from its bucket's forgetting mean, in the bucket's
    standard deviations (with ``prior`` added to the variance); higher = more anomalous.

    Parameters:
        alpha: the least weight of a new sample in its bucket's estimates (forgetting: a
            rhythm that changes for good is learned in about ``1 / alpha`` of its samples).
        warmup: samples of a bucket before its own estimates are used.
        prior: added to every variance, in squared feature units.
        quiet_after: samples of a kind of day after which its young buckets count as quiet
            (0: never).

    Examples:
        >>> SeasonalDetector().score_one({"count_1h": 5.0})  # nothing learned yet
        0.0
    """

    def __init__(
        self,
        alpha: float = 0.1,
        warmup: int = 3,
        prior: float = 0.1,
        quiet_after: int = 0,
    ) -> None:
        for name, value in (("alpha", alpha), ("prior", prior)):
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise ValueError(f"{name} must be a number > 0, got {value!r}")
        if alpha > 1:
            raise ValueError(f"alpha must be at most 1, got {alpha!r}")
        if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 1:
            raise ValueError(f"warmup must be a whole number >= 1, got {warmup!r}")
        if isinstance(quiet_after, bool) or not isinstance(quiet_after, int) or quiet_after < 0:
            raise ValueError(f"quiet_after must be a whole number >= 0, got {quiet_after!r}")
        self.alpha, self.warmup, self.prior = float(alpha), warmup, float(prior)
        self.quiet_after = quiet_after
        # feature -> [n, mean, var] per bucket, then the feature's overall [n, mean, var]
        self._stats: dict[str, array[float]] = {}

    def __repr__(self) -> str:
        return (
            f"SeasonalDetector(alpha={self.alpha}, warmup={self.warmup}, prior={self.prior}, "
            f"quiet_after={self.quiet_after})"
        )

    def learn_one(self, x: dict[str, float]) -> None:
        """Update the sample's bucket and the overall estimates of each counted feature."""
        clean = numeric_features(x)
        b = _bucket(clean)
        for name, value in clean.items():
            if name in CONTEXT:
                continue
            st = self._stats.get(name)
            if st is None:
                if len(self._stats) >= MAX_COUNTED:
                    continue
                st = self._stats[name] = array("d", [0.0] * (3 * (BUCKETS + 1)))
            self._update(st, 3 * b, value)
            self._update(st, 3 * BUCKETS, value)

    def _update(self, st: array[float], at: int, value: float) -> None:
        n = st[at] + 1
        alpha = max(1.0 / n, self.alpha)
        diff = value - st[at + 1]
        st[at] = n
        st[at + 1] += alpha * diff
        st[at + 2] = (1.0 - alpha) * (st[at + 2] + alpha * diff * diff)

    def score_features(self, x: dict[str, float]) -> dict[str, float]:
        """Each counted feature's distance from its bucket (the overall one while young).

        Examples:
            >>> det = SeasonalDetector()
            >>> for _ in range(5):
            ...     det.learn_one({"hour_of_day": 3, "count_1h": 0.0})
            >>> round(det.score_features({"hour_of_day": 3, "count_1h": 1.0})["count_1h"], 2)
            3.16
        """
        clean = numeric_features(x)
        at = 3 * _bucket(clean)
        out: dict[str, float] = {}
        for name, value in clean.items():
            st = self._stats.get(name)
            if st is None or name in CONTEXT:
                continue
            overall = 3 * BUCKETS
            if st[at] >= self.warmup:
                mean, var = st[at + 1], st[at + 2]
            elif self.quiet_after and self._seen_like(st, at) >= self.quiet_after:
                mean, var = st[at + 1] * st[at] / self.warmup, 0.0  # the rest were zeros
            elif st[overall] >= 1:
                mean, var = st[overall + 1], st[overall + 2]
            else:
                continue
            z = abs(value - mean) / math.sqrt(var + self.prior)
            out[name] = z if z < MAX_SCORE else MAX_SCORE
        return out

    @staticmethod
    def _seen_like(st: array[float], at: int) -> float:
        """Samples in the buckets of the same kind of day as the bucket at ``at``."""
        first = 0 if at < 3 * 24 else 3 * 24
        return sum(st[first : first + 3 * 24 : 3])

    def score_one(self, x: dict[str, float]) -> float:
        """Largest distance over the counted features of ``x``; higher = more anomalous."""
        return max(self.score_features(x).values(), default=0.0)

    def __getstate__(self) -> dict[str, Any]:
        params = (self.alpha, self.warmup, self.prior, self.quiet_after)
        return {"params": params, "stats": self._stats}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.alpha, self.warmup, self.prior, *later = state["params"]
        self.quiet_after = later[0] if later else 0  # saved before quiet_after existed
        self._stats = state["stats"]
