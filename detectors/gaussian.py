"""``gaussian``: per-feature running mean and variance; the score is the largest |z|.

Cheap (a few float operations per feature, a few hundred bytes of state), deterministic
(no randomness, so no seed) and robust in three ways:

- **forgetting**: means and variances are exponentially weighted over about ``window``
  samples, so the baseline follows slow drift;
- **winsorised learning**: once past ``grace`` samples, a value is clipped to
  ``mean ± clip·std`` before it is learned, so one extreme burst cannot inflate the
  variance and hide the next one, while a lasting shift is still followed step by step;
- **a variance floor**: a feature that has been constant (``is_night`` always 0) scores
  ``|x - mean| / min_std`` instead of dividing by zero.
"""

from __future__ import annotations

import math
from typing import Any

from detectors.base import MAX_FEATURES, numeric_features

# A score is capped here so it stays finite whatever the input magnitudes.
MAX_SCORE = 1e12


def _check_positive(name: str, value: Any, *, whole: bool) -> float:
    ok_type = isinstance(value, int) if whole else isinstance(value, int | float)
    if isinstance(value, bool) or not ok_type or not math.isfinite(value) or value <= 0:
        kind = "a whole number" if whole else "a number"
        raise ValueError(f"{name} must be {kind} > 0, got {value!r}")
    checked: float = value  # an int stays an int
    return checked


class GaussianDetector:
    """Largest per-feature |z-score| against running, forgetting Gaussian estimates.

    Higher score = more anomalous: the score is in standard deviations (``max |x - mean| /
    max(std, min_std)`` over the features seen at least twice), ``0.0`` before that.
    Scores are two-sided: an unusually low ``gap_log_s`` counts as much as a high one.

    Parameters:
        window: effective memory in samples (the weight of a new sample is
            ``max(1/n, 1/window)``, so the first ``window`` samples average exactly).
        clip: learned values are clipped to ``mean ± clip·max(std, min_std)`` after
            ``grace`` samples.
        grace: samples per feature before clipping starts.
        min_std: floor of the standard deviation, in the feature's own units.
        warmup: samples of a feature before it is scored (at least 2); until then the
            feature is left out of the score, so the first few samples' tiny spread cannot
            make ordinary values look extreme.

    Examples:
        >>> det = GaussianDetector()
        >>> det.score_one({"count": 3.0})
        0.0
        >>> for v in (2.0, 4.0, 2.0, 4.0):
        ...     det.learn_one({"count": v})
        >>> det.score_one({"count": 3.0}), det.score_one({"count": 7.0})
        (0.0, 4.0)
        >>> det.score_one({"count": 7.0, "unseen": 1e9, "other": "text"})
        4.0
    """

    warmup = 2  # class default: a model saved before the parameter existed restores as before

    def __init__(
        self,
        window: int = 1000,
        clip: float = 6.0,
        grace: int = 30,
        min_std: float = 0.01,
        warmup: int = 2,
    ) -> None:
        self.window = int(_check_positive("window", window, whole=True))
        self.clip = float(_check_positive("clip", clip, whole=False))
        self.grace = int(_check_positive("grace", grace, whole=True))
        self.min_std = float(_check_positive("min_std", min_std, whole=False))
        self.warmup = int(_check_positive("warmup", warmup, whole=True))
        if self.warmup < 2:
            raise ValueError(f"warmup must be 2 or more (a spread needs two samples), got {warmup}")
        # feature name -> [n, mean, variance]; plain lists pickle small and fast.
        self._stats: dict[str, list[float]] = {}

    def __repr__(self) -> str:
        return (
            f"GaussianDetector(window={self.window}, clip={self.clip}, grace={self.grace}, "
            f"min_std={self.min_std}, warmup={self.warmup})"
        )

    def learn_one(self, x: dict[str, float]) -> None:
        """Update each feature's running mean and variance with (clipped) values of ``x``."""
        stats = self._stats
        for name, value in numeric_features(x).items():
            st = stats.get(name)
            if st is None:
                if len(stats) >= MAX_FEATURES:
                    continue
                st = stats[name] = [0.0, 0.0, 0.0]
            n, mean, var = st
            if n >= self.grace:
                reach = self.clip * max(math.sqrt(var), self.min_std)
                value = min(max(value, mean - reach), mean + reach)
            n += 1
            alpha = max(1.0 / n, 1.0 / self.window)
            diff = value - mean
            mean += alpha * diff
            var = (1.0 - alpha) * (var + alpha * diff * diff)
            st[0], st[1], st[2] = n, mean, var

    def score_one(self, x: dict[str, float]) -> float:
        """Largest |z| over the known features of ``x``; higher = more anomalous."""
        return max(self.score_features(x).values(), default=0.0)

    def score_features(self, x: dict[str, float]) -> dict[str, float]:
        """Each scored feature's |z| (capped at ``MAX_SCORE``); young ones left out.

        Examples:
            >>> det = GaussianDetector()
            >>> for v in (2.0, 4.0):
            ...     det.learn_one({"a": v})
            >>> det.score_features({"a": 5.0, "new": 1.0})
            {'a': 2.0}
        """
        stats = self._stats
        out: dict[str, float] = {}
        for name, value in numeric_features(x).items():
            st = stats.get(name)
            if st is None or st[0] < self.warmup:
                continue
            z = abs(value - st[1]) / max(math.sqrt(st[2]), self.min_std)
            out[name] = z if z < MAX_SCORE else MAX_SCORE
        return out
