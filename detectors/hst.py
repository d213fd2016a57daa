"""``hst``: river's Half-Space Trees behind an online min-max scaler.

Half-Space Trees need every feature in [0, 1]; features such as ``count_1h`` are not, so
a running min-max scaler sits in front (the river pipeline ``MinMaxScaler | HalfSpaceTrees``,
composed by hand here so unseen or missing features never turn into NaN).

Good at isolated, spread-out anomalies; a burst that fills a whole ``window_size`` of
samples becomes the reference and stops looking anomalous (keep the threshold from learning
what it flags). The model is a fixed-size forest, ~170 KB pickled with the defaults, so
the engine keeps one per rule and partition, never one per key.
"""

from __future__ import annotations

from math import isfinite
from typing import Any

from river import anomaly, preprocessing

from detectors.base import MAX_FEATURES, numeric_features


def _check_range(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}, got {value!r}")
    return value


class HalfSpaceTreesDetector:
    """Half-Space Trees on min-max scaled features; higher score = more anomalous.

    Scores lie in [0, 1]. They are ``0.0`` until the first ``window_size`` samples have
    been learned (the trees have no reference mass yet): a warm-up that
    :class:`~detectors.thresholds.AdaptiveThreshold` rides out with its ``min_samples``.

    The feature set is fixed by the first learned sample (at most ``MAX_FEATURES`` names):
    later new features are ignored, a missing one follows the heavier branch of each tree.

    Parameters:
        n_trees: number of trees (1-200); cost is linear in it.
        height: depth of each tree (1-12); a tree has ``2 ** (height + 1) - 1`` nodes.
        window_size: samples per reference window (mass profile), at least 2.
        seed: random seed of the tree splits; same seed, same scores.
        scaler_window: if set, the scaler tracks min/max over this many recent samples,
            forgetting old extremes; costly (river's rolling min/max: about 3x the time and
            +36 KB pickled per feature at 1,000). Default: min/max of the whole stream.

    Examples:
        >>> det = HalfSpaceTreesDetector(n_trees=5, height=4, window_size=20, seed=1)
        >>> det.score_one({"count": 3.0})
        0.0
        >>> for i in range(200):
        ...     det.learn_one({"count": float(i % 5), "night": 0.0})
        >>> normal = det.score_one({"count": 2.0, "night": 0.0})
        >>> odd = det.score_one({"count": 40.0, "night": 1.0})
        >>> 0.0 <= normal < odd <= 1.0
        True
    """

    def __init__(
        self,
        n_trees: int = 10,
        height: int = 8,
        window_size: int = 250,
        seed: int = 42,
        scaler_window: int | None = None,
    ) -> None:
        self.n_trees = _check_range("n_trees", n_trees, 1, 200)
        self.height = _check_range("height", height, 1, 12)
        self.window_size = _check_range("window_size", window_size, 2, 10_000_000)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"seed must be a whole number, got {seed!r}")
        self.seed = seed
        if scaler_window is not None:
            _check_range("scaler_window", scaler_window, 2, 1_000_000)
        self.scaler_window = scaler_window
        self._features: tuple[str, ...] | None = None
        self._scaler = preprocessing.MinMaxScaler(window_size=scaler_window)
        self._trees = anomaly.HalfSpaceTrees(
            n_trees=n_trees, height=height, window_size=window_size, seed=seed
        )

    def __repr__(self) -> str:
        return (
            f"HalfSpaceTreesDetector(n_trees={self.n_trees}, height={self.height}, "
            f"window_size={self.window_size}, seed={self.seed}, "
            f"scaler_window={self.scaler_window})"
        )

    def _known(self, x: dict[str, Any]) -> dict[str, float]:
        """The finite numeric values of the learned features present in ``x``, in the
        learned order (all numeric features before the first sample)."""
        if self._features is None:
            return numeric_features(x)
        out: dict[str, float] = {}
        for name in self._features:
            value = x.get(name)
            if isinstance(value, int | float):
                v = float(value)
                if isfinite(v):
                    out[name] = v
        return out

    def learn_one(self, x: dict[str, float]) -> None:
        """Learn one sample (scaler first, then the trees' current window)."""
        if self._features is None:
            first = numeric_features(x)
            if not first:
                return  # nothing to build trees on yet
            self._features = tuple(sorted(first)[:MAX_FEATURES])
        known = self._known(x)
        if not known:
            return
        self._scaler.learn_one(known)
        self._trees.learn_one(self._scaler.transform_one(known))

    def score_one(self, x: dict[str, float]) -> float:
        """Anomaly score in [0, 1] of ``x``; higher = more anomalous. Does not learn."""
        if self._features is None:
            return 0.0
        known = self._known(x)
        return float(self._trees.score_one(self._scaler.transform_one(known)))
