"""One stream, one detector: feed ``(features, ts_ms)`` one at a time, get ``(score, flagged)``.

The API for anyone evaluating riskloop's detectors on their own data, and what the
``anomaly`` rules run per rule underneath. The score is the :mod:`anomaly likelihood
<detectors.likelihood>` of the detector's raw score (in [0, 1], comparable across streams);
for the stream's own features (not the derived ones, which already look back over several
samples), also of the mean of their last ``sustained`` raw scores against the history of
such means, whichever is higher (a stretch of somewhat unusual samples is as telling as one
very unusual sample). ``flagged`` is
``score >= threshold`` outside a cooldown after the previous flag (one anomaly, one alert:
an hour of event time and 12 samples, so a slow stream is not alerted on every sample of
the same episode). Each sample is scored before it is learned. Every sample is learned,
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

from detectors.base import MAX_FEATURES, numeric_features
from detectors.derive import Derive
from detectors.likelihood import AnomalyLikelihood
from detectors.registry import make

DEFAULT_DETECTOR = "robust"
DEFAULT_THRESHOLD = 0.9999
DEFAULT_SUSTAINED = 6
DEFAULT_COOLDOWN_SAMPLES = 12


def _either(likelihoods: list[AnomalyLikelihood], raw: float) -> float:
    """The higher of the likelihoods of ``raw``, the second one's tail doubled: looking at the
    recent mean as well is a second test, so each pays half the threshold's tail."""
    score = likelihoods[0].update(raw)
    for lk in likelihoods[1:]:
        mean = 1.0 - 2.0 * (1.0 - lk.update(raw))
        if mean > score:
            score = mean
    return score


class StreamDetector:
    """A detector by name (see :func:`detectors.registry.names`), its likelihood and its
    decision, for one stream.

    With ``derive`` (the default), each numeric feature also brings its first difference,
    short-horizon spread, roughness and residual against its hour of day
    (:class:`~detectors.derive.Derive`). A detector that scores each feature on its own
    (``score_features``, like ``robust``) gets one likelihood per feature and the score is
    the largest of them, so a feature whose raw scores are often high (a noisy difference)
    cannot mask one that is rarely high (a level); other detectors get one likelihood of
    ``score_one``.

    Parameters:
        detector: registered detector name; ``params`` are passed to it.
        threshold: likelihood at or above which a sample is flagged.
        cooldown_ms: after a flag, no other flag for this long in event time.
        likelihood: parameters of :class:`~detectors.likelihood.AnomalyLikelihood`.
        derive: add the derived features (``False``: the detector sees ``x`` only).
        sustained: also score the mean of each given feature's last this many raw scores
            against the history of such means (0 or 1: each raw score alone).
        cooldown_samples: after a flag, no other flag for this many samples either.

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
        derive: bool = True,
        sustained: int = DEFAULT_SUSTAINED,
        cooldown_samples: int = DEFAULT_COOLDOWN_SAMPLES,
        **params: Any,
    ) -> None:
        if isinstance(threshold, bool) or not isinstance(threshold, int | float):
            raise ValueError(f"threshold must be a number in (0, 1], got {threshold!r}")
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"threshold must be a number in (0, 1], got {threshold!r}")
        for name, value in (
            ("cooldown_ms", cooldown_ms),
            ("sustained", sustained),
            ("cooldown_samples", cooldown_samples),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a whole number >= 0, got {value!r}")
        self.detector = make(detector, **params)
        self._likelihood_params = dict(likelihood or {})
        self.sustained = sustained
        self.likelihood = self._new_likelihoods()
        self.per_feature: dict[str, list[AnomalyLikelihood]] = {}
        self.derive = Derive() if derive else None
        self.threshold = float(threshold)
        self.cooldown_ms = cooldown_ms
        self.last_flag_ms: int | None = None
        self.cooldown_samples = cooldown_samples
        self.since_flag = 0
        self.last_features: dict[str, float] = {}
        self.last_scores: dict[str, float] = {}

    def update(self, x: dict[str, Any] | float, ts_ms: int) -> tuple[float, bool]:
        """Score ``x`` (a feature dict, or a number meaning ``{"value": x}``) at ``ts_ms``,
        decide, then learn it; returns ``(score in [0, 1], flagged)``."""
        given = x if isinstance(x, dict) else {"value": x}
        features = self.derive.update(given, ts_ms) if self.derive else numeric_features(given)
        score = self._score(features, given)
        self.since_flag += 1
        cooling = self.last_flag_ms is not None and (
            ts_ms - self.last_flag_ms < self.cooldown_ms or self.since_flag <= self.cooldown_samples
        )
        flagged = score >= self.threshold and not cooling
        if flagged:
            self.last_flag_ms = ts_ms
            self.since_flag = 0
        self.detector.learn_one(features)
        self.last_features = features
        return score, flagged

    def _new_likelihoods(self, sustained: bool = True) -> list[AnomalyLikelihood]:
        """One likelihood of each raw score and, with ``sustained``, one of their recent mean."""
        out = [AnomalyLikelihood(**self._likelihood_params)]
        if sustained and self.sustained > 1:
            out.append(AnomalyLikelihood(**{**self._likelihood_params, "short": self.sustained}))
        return out

    def _score(self, features: dict[str, float], given: dict[str, Any]) -> float:
        per = getattr(self.detector, "score_features", None)
        if per is None:
            raw = self.detector.score_one(features)
            score = _either(self.likelihood, raw)
            self.last_scores = {name: score for name in features}
            return score
        scores: dict[str, float] = {}
        for name, raw in per(features).items():
            lks = self.per_feature.get(name)
            if lks is None:
                if len(self.per_feature) >= MAX_FEATURES:
                    continue
                lks = self.per_feature[name] = self._new_likelihoods(name in given)
            scores[name] = _either(lks, raw)
        self.last_scores = scores
        return max(scores.values(), default=0.5)

    def explain(self, top: int = 3) -> dict[str, Any]:
        """The latest sample: its features, score, the threshold and the ``top`` features
        whose likelihood was highest (what made the score).

        Examples:
            >>> sd = StreamDetector(derive=False)
            >>> sd.explain()["score"]
            0.0
        """
        ranked = sorted(self.last_scores.items(), key=lambda kv: (-kv[1], kv[0]))
        return {
            "features": dict(self.last_features),
            "score": max(self.last_scores.values(), default=0.0),
            "threshold": self.threshold,
            "top": [{"feature": k, "score": v} for k, v in ranked[:top]],
        }
