"""The contract every detector keeps, as checks a plug-in author can import and run.

Each check takes ``make(seed) -> detector`` (a detector without randomness ignores the seed)
and raises ``AssertionError`` saying what broke. ``tests/detectors`` runs :data:`CHECKS`
over every registered detector; a plug-in author runs them over theirs::

    from detectors.contract import CHECKS
    for check in CHECKS:
        check(lambda seed: MyDetector(seed=seed))

Examples:
    >>> from detectors.gaussian import GaussianDetector
    >>> run_all(lambda seed: GaussianDetector())
    ['scores_before_learning', 'new_and_missing_features', 'inputs_not_mutated', \
'pickle_round_trip', 'same_seed_same_scores', 'bounded_memory', 'no_flood_on_a_constant_stream', \
'better_than_chance']
    >>> class Broken:
    ...     def learn_one(self, x): x.clear()
    ...     def score_one(self, x): return 0.0
    >>> check_inputs_not_mutated(lambda seed: Broken())
    Traceback (most recent call last):
    ...
    AssertionError: the detector changed its input
"""

from __future__ import annotations

import copy
import math
import pickle
import random
from collections.abc import Callable
from typing import Any

from detectors.base import Detector
from detectors.thresholds import AdaptiveThreshold

Make = Callable[[int], Detector]
# A detector's pickled state after 20,000 learns stays under this, whatever it has seen.
MAX_PICKLE_BYTES = 256 * 1024


def samples(n: int, seed: int = 3) -> list[dict[str, float]]:
    """Three features of different scales, with a rare outlier in ``count``.

    Examples:
        >>> sorted(samples(1)[0])
        ['a', 'b', 'count']
    """
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        x = {"a": rng.gauss(0, 1), "b": rng.uniform(0, 10), "count": float(rng.randrange(1, 6))}
        if rng.random() < 0.02:
            x["count"] = 60.0
        out.append(x)
    return out


def labelled(n: int = 3000, seed: int = 5) -> list[tuple[dict[str, float], int]]:
    """A labelled stream: two correlated features; 2 % of samples (label 1) far off.

    Examples:
        >>> sum(y for _, y in labelled(1000)) > 5
        True
    """
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        a = rng.gauss(10, 2)
        if rng.random() < 0.02:
            out.append(({"a": a + rng.choice((-1, 1)) * 12, "b": rng.gauss(0, 1) + 8}, 1))
        else:
            out.append(({"a": a, "b": rng.gauss(0, 1)}, 0))
    return out


def score_then_learn(det: Detector, xs: list[dict[str, Any]]) -> list[float]:
    """Each sample scored, then learned; the scores.

    Examples:
        >>> from detectors.gaussian import GaussianDetector
        >>> score_then_learn(GaussianDetector(), [{"v": 1.0}, {"v": 3.0}, {"v": 2.0}])
        [0.0, 0.0, 0.0]
    """
    scores = []
    for x in xs:
        scores.append(det.score_one(x))
        det.learn_one(x)
    return scores


def roc_auc(labels: list[int], scores: list[float]) -> float:
    """Exact ROC AUC: the chance a random positive outscores a random negative (ties: 1/2).

    Examples:
        >>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]), roc_auc([0, 1], [5.0, 5.0])
        (0.75, 0.5)
    """
    order = sorted(range(len(scores)), key=scores.__getitem__)
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    n_pos = sum(1 for y in labels if y)
    n_neg = len(labels) - n_pos
    rank_sum = sum(r for r, y in zip(ranks, labels, strict=True) if y)
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def _ensure(ok: bool, message: str) -> None:
    """Raise ``AssertionError(message)`` unless ``ok`` (kept under ``python -O`` too)."""
    if not ok:
        raise AssertionError(message)


def _finite_float(score: object, when: str) -> None:
    if not isinstance(score, float) or type(score) is not float:
        raise AssertionError(f"{when}: score {score!r} is not a float")
    _ensure(math.isfinite(score), f"{when}: score {score!r} is not finite")


def check_scores_before_learning(make: Make) -> None:
    """Finite float scores before any learning and during warm-up.

    Examples:
        >>> from detectors.robust import RobustDetector
        >>> check_scores_before_learning(lambda seed: RobustDetector())
    """
    det = make(7)
    probes: tuple[dict[str, Any], ...] = ({}, {"a": 1.0}, {"a": 1e300, "b": -1e300, "count": 0})
    for x in probes:
        _finite_float(det.score_one(x), f"before learning, {x}")
    det.learn_one({"a": 0.5, "b": 1.0, "count": 2.0})
    for x in probes:
        _finite_float(det.score_one(x), f"after one sample, {x}")


def check_new_and_missing_features(make: Make) -> None:
    """New, missing, non-numeric and non-finite features neither raise nor break scores.

    Examples:
        >>> from detectors.robust import RobustDetector
        >>> check_new_and_missing_features(lambda seed: RobustDetector())
    """
    det = make(7)
    det.learn_one({})
    score_then_learn(det, samples(400))
    odd: list[dict[str, Any]] = [
        {"a": 0.5},
        {"a": 0.5, "b": 2.0, "count": 3.0, "brand_new": 7.0},
        {},
        {"a": "text", "b": None, "count": float("nan"), "d": float("inf")},
        {"a": True, "b": 1e308, "count": -1e308},
    ]
    for x in odd:
        _finite_float(det.score_one(x), f"scoring {x}")
        det.learn_one(x)
    _finite_float(det.score_one(samples(1)[0]), "after odd inputs")


def check_inputs_not_mutated(make: Make) -> None:
    """Neither ``score_one`` nor ``learn_one`` changes the dict it is given.

    Examples:
        >>> from detectors.robust import RobustDetector
        >>> check_inputs_not_mutated(lambda seed: RobustDetector())
    """
    xs: list[dict[str, Any]] = [*samples(300), {"a": 1.0, "t": "x", "n": None, "z": math.nan}]
    before = copy.deepcopy(xs)
    score_then_learn(make(7), xs)
    _ensure(repr(xs) == repr(before), "the detector changed its input")


def check_pickle_round_trip(make: Make) -> None:
    """A pickled-and-restored detector scores exactly like the original from then on.

    Examples:
        >>> from detectors.robust import RobustDetector
        >>> check_pickle_round_trip(lambda seed: RobustDetector())
    """
    det, xs = make(7), samples(1100)
    score_then_learn(det, xs[:800])
    clone = pickle.loads(pickle.dumps(det))
    original, cloned = score_then_learn(det, xs[800:]), score_then_learn(clone, xs[800:])
    _ensure(cloned == original, "the restored detector scores differently")
    _ensure(len(set(original)) > 10, "the scores carry no information (fewer than 11 values)")


def check_same_seed_same_scores(make: Make) -> None:
    """The same seed gives the same scores.

    Examples:
        >>> from detectors.robust import RobustDetector
        >>> check_same_seed_same_scores(lambda seed: RobustDetector())
    """
    xs = samples(800)
    _ensure(score_then_learn(make(11), xs) == score_then_learn(make(11), xs), "seed 11 twice")


def check_bounded_memory(make: Make) -> None:
    """The pickled state stops growing, even when callers invent feature names.

    Examples:
        >>> from detectors.robust import RobustDetector
        >>> check_bounded_memory(lambda seed: RobustDetector())
    """
    det, size_2k = make(7), 0
    for i, x in enumerate(samples(20_000)):
        det.learn_one({**x, f"invented_{i}": 1.0} if i % 100 == 0 else x)
        if i == 1999:
            size_2k = len(pickle.dumps(det))
    size = len(pickle.dumps(det))
    _ensure(size < MAX_PICKLE_BYTES, f"{size} bytes after 20,000 learns")
    _ensure(size <= size_2k * 1.05 + 2048, f"grew from {size_2k} to {size} bytes")


def check_no_flood_on_a_constant_stream(make: Make) -> None:
    """On a constant stream an adaptive quantile threshold flags nothing.

    Examples:
        >>> from detectors.robust import RobustDetector
        >>> check_no_flood_on_a_constant_stream(lambda seed: RobustDetector())
    """
    det, thr, flags = make(7), AdaptiveThreshold(q=0.995, min_samples=200), 0
    for _ in range(3000):
        score = det.score_one({"a": 5.0, "b": 0.0})
        flags += thr.classify(score)
        thr.update(score)
        det.learn_one({"a": 5.0, "b": 0.0})
    _ensure(flags == 0, f"{flags} flags on a constant stream")


def check_better_than_chance(make: Make) -> None:
    """ROC AUC above 0.75 on :func:`labelled` (everything learned, outliers too).

    Examples:
        >>> from detectors.robust import RobustDetector
        >>> check_better_than_chance(lambda seed: RobustDetector())
    """
    det, labels, scores = make(7), [], []
    for x, y in labelled():
        scores.append(det.score_one(x))
        det.learn_one(x)
        labels.append(y)
    auc = roc_auc(labels, scores)
    _ensure(auc > 0.75, f"ROC AUC {auc:.3f} on a labelled stream")


CHECKS: tuple[Callable[[Make], None], ...] = (
    check_scores_before_learning,
    check_new_and_missing_features,
    check_inputs_not_mutated,
    check_pickle_round_trip,
    check_same_seed_same_scores,
    check_bounded_memory,
    check_no_flood_on_a_constant_stream,
    check_better_than_chance,
)


def run_all(make: Make) -> list[str]:
    """Run every check (the first failure raises); the names of the checks passed.

    Examples:
        >>> len(run_all(lambda seed: __import__("detectors.robust").robust.RobustDetector()))
        8
    """
    passed = []
    for check in CHECKS:
        check(make)
        passed.append(check.__name__.removeprefix("check_"))
    return passed
