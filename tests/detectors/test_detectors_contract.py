"""The contract every registered detector keeps; a new plug-in gets this suite for free."""

from __future__ import annotations

import copy
import math
import pickle
import random
from typing import Any

import pytest
from detectors_fixtures import labelled_features, roc_auc

from detectors import registry
from detectors.base import Detector

NAMES = registry.names()
# Stated bound: a detector's pickled state after 20,000 learns, whatever it has seen.
MAX_PICKLE_BYTES = 256 * 1024


def seeded(name: str, seed: int = 7) -> Detector:
    """``make(name)`` with ``seed`` if the detector has randomness (a seed parameter)."""
    return registry.make(name, **({"seed": seed} if "seed" in registry.params(name) else {}))


def samples(n: int, seed: int = 3) -> list[dict[str, float]]:
    """Three features of different scales, with a rare outlier."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        x = {"a": rng.gauss(0, 1), "b": rng.uniform(0, 10), "count": float(rng.randrange(1, 6))}
        if rng.random() < 0.02:
            x["count"] = 60.0
        out.append(x)
    return out


def score_then_learn(det: Detector, xs: list[dict[str, Any]]) -> list[float]:
    scores = []
    for x in xs:
        scores.append(det.score_one(x))
        det.learn_one(x)
    return scores


def assert_finite_float(score: object) -> None:
    assert type(score) is float, f"score {score!r} is a {type(score).__name__}, not a float"
    assert math.isfinite(score)


@pytest.mark.parametrize("name", NAMES)
def test_registered_detector_implements_the_protocol(name: str) -> None:
    assert isinstance(registry.make(name), Detector)


@pytest.mark.parametrize("name", NAMES)
def test_scores_before_any_learning_are_finite_floats(name: str) -> None:
    det = seeded(name)
    probes: tuple[dict[str, Any], ...] = ({}, {"a": 1.0}, {"a": 1e300, "b": -1e300, "count": 0})
    for x in probes:
        assert_finite_float(det.score_one(x))
    det.learn_one({"a": 0.5, "b": 1.0, "count": 2.0})  # and during warm-up
    for x in probes:
        assert_finite_float(det.score_one(x))


@pytest.mark.parametrize("name", NAMES)
def test_new_missing_and_bad_features_do_not_raise(name: str) -> None:
    det = seeded(name)
    det.learn_one({})  # nothing to learn yet
    score_then_learn(det, samples(400))
    odd_inputs: list[dict[str, Any]] = [
        {"a": 0.5},  # missing features
        {"a": 0.5, "b": 2.0, "count": 3.0, "brand_new": 7.0},  # a new feature
        {},
        {"a": "text", "b": None, "count": float("nan"), "d": float("inf")},
        {"a": True, "b": 1e308, "count": -1e308},
    ]
    for x in odd_inputs:
        assert_finite_float(det.score_one(x))
        det.learn_one(x)
    assert_finite_float(det.score_one(samples(1)[0]))


@pytest.mark.parametrize("name", NAMES)
def test_inputs_are_not_mutated(name: str) -> None:
    det = seeded(name)
    xs: list[dict[str, Any]] = samples(300) + [
        {"a": 1.0, "text": "x", "none": None, "nan": float("nan")}
    ]
    before = copy.deepcopy(xs)
    score_then_learn(det, xs)
    assert repr(xs) == repr(before)  # repr: NaN != NaN would defeat ==


@pytest.mark.parametrize("name", NAMES)
def test_pickle_round_trip_gives_identical_subsequent_scores(name: str) -> None:
    det = seeded(name)
    xs = samples(1100)
    score_then_learn(det, xs[:800])
    clone = pickle.loads(pickle.dumps(det))
    original_scores = score_then_learn(det, xs[800:])
    clone_scores = score_then_learn(clone, xs[800:])
    assert clone_scores == original_scores
    assert len(set(original_scores)) > 10  # the scores carry information


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_scores(name: str) -> None:
    xs = samples(800)
    first = score_then_learn(seeded(name, 11), xs)
    second = score_then_learn(seeded(name, 11), xs)
    assert first == second
    if "seed" in registry.params(name):
        assert score_then_learn(seeded(name, 12), xs) != first  # the seed is used


@pytest.mark.parametrize("name", NAMES)
def test_memory_stays_bounded_after_20k_learns(name: str) -> None:
    det = seeded(name)
    xs = samples(20_000)
    for i, x in enumerate(xs):
        if i % 100 == 0:
            x = {**x, f"invented_{i}": 1.0}  # callers inventing feature names
        det.learn_one(x)
        if i == 1999:
            size_2k = len(pickle.dumps(det))
    size_20k = len(pickle.dumps(det))
    assert size_20k < MAX_PICKLE_BYTES
    assert size_20k <= size_2k * 1.05 + 2048, f"grew from {size_2k} to {size_20k} bytes"


@pytest.mark.parametrize("name", NAMES)
def test_better_than_chance_on_night_bursts(name: str) -> None:
    """Office-hours data access per staff account vs night-time bursts of reads."""
    det = seeded(name)
    labels, scores = [], []
    for x, label in labelled_features(seed=7):
        scores.append(det.score_one(x))
        det.learn_one(x)  # learns the bursts too: the harder setting
        labels.append(label)
    assert sum(labels) > 50
    assert roc_auc(labels, scores) > 0.7


def test_roc_auc_is_exact_and_can_fail() -> None:
    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
    assert roc_auc([0, 1, 0, 1], [5.0, 5.0, 5.0, 5.0]) == 0.5  # constant scores: chance
    assert roc_auc([1, 0], [0.0, 100.0]) == 0.0  # unbounded scores, wrong direction
