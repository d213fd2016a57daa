"""Dispositions teach detectors: a dismissed anomaly warning (a false positive) is learned as
normal, so the detector scores that pattern lower; a confirmed one is never learned."""

from __future__ import annotations

import random

import pytest
from event_factories import make_event
from rule_factories import export_anomaly_rule

from rules import RuleSet
from rules.engine.engine import Engine
from rules.language.model import parse_rule

RULE = export_anomaly_rule("{name: gaussian}", "{quantile: 0.95, min_samples: 50, cooldown: 1m}")
T0 = 1772414100000
ODD = {"value:attrs.rows": 400.0}


def engine_with_a_warning() -> tuple[Engine, list]:
    eng = Engine(RuleSet([parse_rule(RULE, "odd-exports.yaml")]), lateness_ms=0)
    rng = random.Random(5)
    for i in range(300):  # the usual: about 20 rows per export, many accounts
        account = f"acc-{i % 30}"
        eng.process(
            make_event(
                ts_ms=T0 + i * 60_000,
                type="data.export",
                account=account,
                rows=rng.gauss(20, 3),
                id=f"e{i}",
            )
        )
    warnings = eng.process(
        make_event(
            ts_ms=T0 + 301 * 60_000, type="data.export", account="acc-odd", rows=400, id="odd"
        )
    )
    return eng, warnings


def score(eng: Engine) -> float:
    (state,) = eng.states.values()
    return state.model.detector.score_one(ODD)


def test_a_dismissed_warning_is_learned_as_normal():
    eng, warnings = engine_with_a_warning()
    assert [w.key for w in warnings] == ["acc-odd"]
    before = score(eng)

    assert eng.feedback("odd-exports", "acc-odd", "dismissed") is True
    assert score(eng) < before, "the dismissed pattern now looks less anomalous"
    assert eng.stats["odd-exports"]["learned"] == 1
    learned = score(eng)
    assert eng.feedback("odd-exports", "acc-odd", "dismissed") is False  # redelivered
    assert score(eng) == learned and eng.stats["odd-exports"]["learned"] == 1


@pytest.mark.parametrize(
    ("rule", "key", "outcome"),
    [
        ("odd-exports", "acc-odd", "confirmed"),  # a real risk: never normal
        ("odd-exports", "acc-3", "dismissed"),  # a key with no warning waiting
        ("another-rule", "acc-odd", "dismissed"),
    ],
)
def test_anything_else_teaches_nothing(rule, key, outcome):
    eng, _ = engine_with_a_warning()
    before = score(eng)
    assert eng.feedback(rule, key, outcome) is False
    assert score(eng) == before
    assert eng.stats["odd-exports"]["learned"] == 0


def test_a_confirmed_verdict_clears_the_waiting_sample():
    eng, _ = engine_with_a_warning()
    eng.feedback("odd-exports", "acc-odd", "confirmed")
    before = score(eng)
    assert eng.feedback("odd-exports", "acc-odd", "dismissed") is False  # a later verdict
    assert score(eng) == before
