"""The contract every registered detector keeps (``detectors.contract``, importable by a
plug-in author); a new plug-in gets this suite for free."""

from __future__ import annotations

import pytest
from detectors_fixtures import labelled_features

from detectors import registry
from detectors.base import Detector
from detectors.contract import CHECKS, Make, check_inputs_not_mutated, roc_auc

NAMES = registry.names()


def maker(name: str) -> Make:
    """``make(name)`` with the seed if the detector has randomness (a seed parameter)."""
    seeded = "seed" in registry.params(name)
    return lambda seed: registry.make(name, **({"seed": seed} if seeded else {}))


@pytest.mark.parametrize("name", NAMES)
def test_registered_detector_implements_the_protocol(name: str) -> None:
    assert isinstance(registry.make(name), Detector)


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("name", NAMES)
def test_registered_detector_keeps_the_contract(name: str, check) -> None:  # type: ignore[no-untyped-def]
    check(maker(name))


@pytest.mark.parametrize("name", [n for n in NAMES if "seed" in registry.params(n)])
def test_the_seed_is_used(name: str) -> None:
    from detectors.contract import samples, score_then_learn

    xs = samples(800)
    assert score_then_learn(maker(name)(11), xs) != score_then_learn(maker(name)(12), xs)


@pytest.mark.parametrize("name", NAMES)
def test_better_than_chance_on_night_bursts(name: str) -> None:
    """Office-hours data access per staff account vs night-time bursts of reads."""
    det = maker(name)(7)
    labels, scores = [], []
    for x, label in labelled_features(seed=7):
        scores.append(det.score_one(x))
        det.learn_one(x)  # learns the bursts too: the harder setting
        labels.append(label)
    assert sum(labels) > 50
    assert roc_auc(labels, scores) > 0.7


def test_a_check_fails_on_a_detector_that_breaks_the_contract() -> None:
    class Mutating:
        def learn_one(self, x: dict) -> None:
            x.pop("a", None)

        def score_one(self, x: dict) -> float:
            return 0.0

    with pytest.raises(AssertionError, match="changed its input"):
        check_inputs_not_mutated(lambda seed: Mutating())


def test_roc_auc_is_exact_and_can_fail() -> None:
    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
    assert roc_auc([0, 1, 0, 1], [5.0, 5.0, 5.0, 5.0]) == 0.5  # constant scores: chance
    assert roc_auc([1, 0], [0.0, 100.0]) == 0.0  # unbounded scores, wrong direction
