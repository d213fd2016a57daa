"""AdaptiveThreshold: flags the top 1 - q tail of recent scores, after a warm-up."""

from __future__ import annotations

import pickle
import random

import pytest

from detectors.thresholds import AdaptiveThreshold

Q995_NORMAL = 2.5758  # 0.995-quantile of the standard normal distribution


def normal_scores(n: int, mean: float = 0.0, seed: int = 5) -> list[float]:
    rng = random.Random(seed)
    return [rng.gauss(mean, 1.0) for _ in range(n)]


def run(thr: AdaptiveThreshold, scores: list[float]) -> list[bool]:
    """The engine's order: decide on a score, then record it."""
    flags = []
    for s in scores:
        flags.append(thr.classify(s))
        thr.update(s)
    return flags


def test_warm_up_returns_false_until_min_samples_scores() -> None:
    thr = AdaptiveThreshold(q=0.995, min_samples=200)
    for s in normal_scores(199):
        assert thr.classify(1e9) is False
        thr.update(s)
    assert thr.value is None
    assert thr.classify(1e9) is False
    thr.update(0.0)
    assert thr.value is not None
    assert thr.classify(1e9) is True


def test_flags_only_the_top_tail_of_a_known_distribution() -> None:
    thr = AdaptiveThreshold(q=0.995)
    scores = normal_scores(10_000)
    flags = run(thr, scores)
    flagged = [s for s, f in zip(scores, flags, strict=True) if f]
    judged = len(scores) - thr.min_samples
    assert abs(len(flagged) / judged - 0.005) < 0.0025
    assert min(flagged) > 2.0  # only the upper tail: 2.0 is the 0.977-quantile


def test_value_tracks_the_quantile_and_follows_a_level_shift() -> None:
    thr = AdaptiveThreshold(q=0.995)
    run(thr, normal_scores(10_000))
    assert thr.value == pytest.approx(Q995_NORMAL, abs=0.2)
    run(thr, normal_scores(10_000, mean=10.0, seed=6))
    assert thr.value == pytest.approx(10 + Q995_NORMAL, abs=0.2)


def test_value_is_the_nearest_rank_quantile_of_the_window() -> None:
    thr = AdaptiveThreshold(q=0.9, min_samples=5, window=10)
    for s in range(1, 21):  # the window ends up holding 11..20
        thr.update(float(s))
    assert thr.value == 19.0
    assert (thr.classify(19.0), thr.classify(19.5)) == (False, True)


def test_classify_never_learns() -> None:
    thr = AdaptiveThreshold(q=0.99, min_samples=10)
    run(thr, normal_scores(500))
    value, n_seen = thr.value, thr.n_seen
    for s in (1e9, -1e9, 3.0):
        thr.classify(s)
    assert (thr.value, thr.n_seen) == (value, n_seen)


def test_non_finite_scores_are_ignored_and_never_flagged() -> None:
    thr = AdaptiveThreshold(q=0.99, min_samples=10)
    run(thr, normal_scores(100))
    value = thr.value
    for s in (float("nan"), float("inf"), float("-inf")):
        thr.update(s)
    assert (thr.n_seen, thr.value) == (100, value)
    assert thr.classify(float("nan")) is False


def test_pickle_round_trip_keeps_decisions() -> None:
    thr = AdaptiveThreshold(q=0.99, min_samples=50, window=500)
    run(thr, normal_scores(800))
    clone = pickle.loads(pickle.dumps(thr))
    later = normal_scores(600, seed=9)
    assert run(clone, later) == run(thr, later)
    assert clone.value == thr.value


def test_state_is_bounded_by_the_window() -> None:
    thr = AdaptiveThreshold(q=0.995)
    run(thr, normal_scores(thr.window))
    full = len(pickle.dumps(thr))
    run(thr, normal_scores(20_000, seed=8))
    assert len(pickle.dumps(thr)) <= full + 64
    assert full < 100_000  # 2 x 5,000 doubles


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"q": 1.0}, "q must be a quantile strictly between 0 and 1"),
        ({"q": "high"}, "q must be a quantile"),
        ({"min_samples": 0}, "min_samples must be a whole number >= 1, got 0"),
        ({"min_samples": 200, "window": 100}, "window must be a whole number >= min_samples"),
    ],
)
def test_bad_settings_are_rejected_with_a_reason(kwargs: dict, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        AdaptiveThreshold(**kwargs)


def test_default_window_keeps_25_scores_above_the_threshold() -> None:
    assert AdaptiveThreshold(q=0.995).window == 5000
    assert AdaptiveThreshold(q=0.99).window == 2500
    assert AdaptiveThreshold(q=0.5, min_samples=200).window == 200
