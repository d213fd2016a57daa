"""Anomaly rules with one model per key (``detector.per_key``) and warnings that explain
their score: features, score, threshold and the features that contributed most."""

from __future__ import annotations

import pickle
import random

from event_factories import make_event
from rule_factories import export_anomaly_rule

from rules import RuleSet
from rules.engine.engine import Engine
from rules.language.model import parse_rule

T0 = 1772414100000
PER_KEY = export_anomaly_rule(
    "{name: profile, per_key: true}", "{quantile: 0.99, min_samples: 100, min_score: 6}"
)


def run(rule: str, rows_of: dict[str, float], n: int = 600) -> tuple[Engine, list]:
    eng = Engine(RuleSet([parse_rule(rule, "odd-exports.yaml")]), lateness_ms=0)
    rng = random.Random(3)
    warnings = []
    for i in range(n):
        account = list(rows_of)[i % len(rows_of)]
        rows = rng.gauss(rows_of[account], rows_of[account] * 0.05)
        warnings += eng.process(
            make_event(
                ts_ms=T0 + i * 60_000, type="data.export", account=account, rows=rows, id=f"e{i}"
            )
        )
    return eng, warnings


def test_each_key_is_judged_against_its_own_history() -> None:
    usual = {"batch": 5000.0, "clerk": 20.0}
    eng, warnings = run(PER_KEY, usual)
    assert warnings == []  # the batch account is always heavy: normal for it
    odd = make_event(ts_ms=T0 + 10**6, type="data.export", account="clerk", rows=900, id="x")
    (warning,) = eng.process(odd)
    assert warning.key == "clerk"
    heavy = make_event(ts_ms=T0 + 10**6 + 1, type="data.export", account="batch", rows=5100, id="y")
    assert eng.process(heavy) == []


def test_a_warning_carries_its_features_score_threshold_and_top_features() -> None:
    eng, _ = run(PER_KEY, {"clerk": 20.0})
    odd = make_event(ts_ms=T0 + 10**6, type="data.export", account="clerk", rows=900, id="x")
    (warning,) = eng.process(odd)
    why = warning.details["anomaly"]
    assert why["features"] == {"value:attrs.rows": 900.0}
    assert why["score"] == warning.value and why["score"] >= why["threshold"] >= 6
    assert why["top_features"][0][0] == "value:attrs.rows"


def test_per_key_models_survive_a_checkpoint() -> None:
    eng, _ = run(PER_KEY, {"clerk": 20.0, "other": 300.0})
    (state,) = eng.states.values()
    clone = pickle.loads(pickle.dumps(state.model))
    x = {"value:attrs.rows": 250.0}
    assert clone.detector.score_one("clerk", x) == state.model.detector.score_one("clerk", x)
    assert sorted(clone.detector.keys()) == ["clerk", "other"]


def test_per_key_models_live_inside_each_model_by_model() -> None:
    rule = PER_KEY.replace("threshold:", "model_by: [region]\nthreshold:")
    eng = Engine(RuleSet([parse_rule(rule, "odd-exports.yaml")]), lateness_ms=0)
    rng = random.Random(5)
    usual = {"330106": 20.0, "330108": 5000.0}  # one account name, two districts
    for i in range(800):
        region = list(usual)[i % 2]
        rows = rng.gauss(usual[region], usual[region] * 0.05)
        ev = make_event(
            ts_ms=T0 + i * 60_000, type="data.export", region=region, account="clerk", rows=rows
        )
        assert eng.process(ev) == []
    (state,) = eng.states.values()
    assert sorted(state.model.models) == ["330106", "330108"]
    assert all(list(m.detector.keys()) == ["clerk"] for m in state.model.models.values())

    def export(region: str, rows: float, i: int) -> list:
        ts_ms = T0 + 10**6 * i
        ev = make_event(ts_ms=ts_ms, type="data.export", region=region, account="clerk", rows=rows)
        return eng.process(ev)

    assert export("330108", 5100.0, 1) == []  # usual for the clerk of this district
    (warning,) = export("330106", 5100.0, 2)  # not for the one of that district
    assert warning.key == "clerk"
