"""One stream, one detector: feed ``(features, ts_ms)`` one at a time, get ``(score, flagged)``.

The API for anyone evaluating riskloop's detectors on their own data, and what the
``anomaly`` rules run per rule underneath. The score is the :mod:`anomaly likelihood
<detectors.likelihood>` of the detector's raw score (in [0, 1], comparable across streams),
and ``flagged`` is ``score >= threshold`` outside a ``cooldown`` after the previous flag (one
anomaly, one alert). Each sample is scored before it is learned. Every sample is learned,
flagged or not: a level that persists becomes the new normal within the detector's window
(for ``robust``, ``window / 2`` samples) instead of alerting for good.

Examples:
    >>> import random
    >>> rng = random.Random(1)
    >>> sd = StreamDetector()  # the default detector with its default threshold
    >>> t0, step = 1772413200000, 300_000  # every 5 minutes
    >>> values = [10 + rng.gauss(0, 1) for _ in range(1000)] + [30.0] + [
    ...     10 + rng.gauss(0, 1) for _ in range(200)]
    >>> flags = [sd.update({"value": v}, t0 + i * step)[1] for i, v in enumerate(values)]
    >>> [i for i, f in enumerate(flags) if f]
    [1000]
    >>> score, flagged = sd.update(10.0, t0 + 1201 * step)  # a bare number is {"value": n}
    >>> 0.0 <= score <= 1.0, flagged
    (True, False)
"""

from __future__ import annotations

from typing import Any

from detectors.likelihood import AnomalyLikelihood
from detectors.registry import make

DEFAULT_DETECTOR = "robust"
DEFAULT_THRESHOLD = 0.9999


class StreamDetector:
    """A detector by name (see :func:`detectors.registry.names`), its likelihood and its
    decision, for one stream.

    Parameters:
        detector: registered detector name; ``params`` are passed to it.
        threshold: likelihood at or above which a sample is flagged.
        cooldown_ms: after a flag, no other flag for this long in event time.
        likelihood: parameters of :class:`~detectors.likelihood.AnomalyLikelihood`.

    Examples:
        >>> sd = StreamDetector("gaussian", threshold=0.99999, cooldown_ms=0, window=500)
        >>> sd.detector
        GaussianDetector(window=500, clip=6.0, grace=30, min_std=0.01, warmup=2)
        >>> StreamDetector(threshold=2)
        Traceback (most recent call last):
        ...
        ValueError: threshold must be a number in (0, 1], got 2
    """

    def __init__(
        self,
        detector: str = DEFAULT_DETECTOR,
        threshold: float = DEFAULT_THRESHOLD,
        cooldown_ms: int = 3_600_000,
        likelihood: dict[str, Any] | None = None,
        **params: Any,
    ) -> None:
        if isinstance(threshold, bool) or not isinstance(threshold, int | float):
            raise ValueError(f"threshold must be a number in (0, 1], got {threshold!r}")
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"threshold must be a number in (0, 1], got {threshold!r}")
        if isinstance(cooldown_ms, bool) or not isinstance(cooldown_ms, int) or cooldown_ms < 0:
            raise ValueError(f"cooldown_ms must be a whole number >= 0, got {cooldown_ms!r}")
        self.detector = make(detector, **params)
        self.likelihood = AnomalyLikelihood(**(likelihood or {}))
        self.threshold = float(threshold)
        self.cooldown_ms = cooldown_ms
        self.last_flag_ms: int | None = None

    def update(self, x: dict[str, Any] | float, ts_ms: int) -> tuple[float, bool]:
        """Score ``x`` (a feature dict, or a number meaning ``{"value": x}``) at ``ts_ms``,
        decide, then learn it; returns ``(score in [0, 1], flagged)``."""
        features = x if isinstance(x, dict) else {"value": x}
        score = self.likelihood.update(self.detector.score_one(features))
        cooling = self.last_flag_ms is not None and ts_ms - self.last_flag_ms < self.cooldown_ms
        flagged = score >= self.threshold and not cooling
        if flagged:
            self.last_flag_ms = ts_ms
        self.detector.learn_one(features)
        return score, flagged
