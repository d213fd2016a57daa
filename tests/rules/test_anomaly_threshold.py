"""How an ``anomaly`` rule decides: one burst counts once in the adaptive threshold, so a
second account's burst right after the first still fires; ``min_score`` is a floor below
which nothing fires, however quiet the recent past."""

from __future__ import annotations

import random

from event_factories import make_event
from rule_factories import export_anomaly_rule

from rules import RuleSet
from rules.engine.engine import Engine
from rules.language.model import parse_rule

RULE = export_anomaly_rule(
    "{name: gaussian, params: {warmup: 30}}", "{quantile: 0.99, min_samples: 100, cooldown: 6h%s}"
)
T0 = 1772414100000
MIN = 60_000


def usual_day(floor: str = "") -> tuple[Engine, int]:
    """An engine that has seen 400 ordinary exports (about 20 rows, 40 accounts)."""
    eng = Engine(RuleSet([parse_rule(RULE % floor, "odd-exports.yaml")]), lateness_ms=0)
    rng = random.Random(5)
    for i in range(400):
        eng.process(
            make_event(
                ts_ms=T0 + i * MIN,
                type="data.export",
                account=f"acc-{i % 40}",
                rows=rng.gauss(20, 3),
                id=f"e{i}",
            )
        )
    return eng, T0 + 400 * MIN


def export(eng: Engine, ts_ms: int, account: str, rows: float) -> list:
    ev = make_event(ts_ms=ts_ms, type="data.export", account=account, rows=rows, id=f"{ts_ms}")
    return eng.process(ev)


def test_a_second_burst_fires_after_a_first_one_filled_the_tail() -> None:
    eng, t = usual_day()
    fired = []
    for i in range(30):  # one account exports 400 rows, again and again: one warning
        fired += export(eng, t + i * MIN, "acc-burst-1", 400 + i)
    for i in range(30):  # then another account does the same
        fired += export(eng, t + (30 + i) * MIN, "acc-burst-2", 400 + i)
    assert [w.key for w in fired] == ["acc-burst-1", "acc-burst-2"]


def test_min_score_keeps_an_ordinary_tail_quiet() -> None:
    unfloored, t = usual_day()
    floored, _ = usual_day(", min_score: 8")
    rng = random.Random(9)
    rows = [rng.gauss(20, 3) for _ in range(2000)] + [40.0]  # 40 rows: about 7 sigma out
    quiet = [w for i, r in enumerate(rows) for w in export(floored, t + i * MIN, f"a{i}", r)]
    noisy = [w for i, r in enumerate(rows) for w in export(unfloored, t + i * MIN, f"a{i}", r)]
    assert len(noisy) >= 10, "the quantile alone flags about 1 % of a steady stream"
    assert quiet == [], "no ordinary export is 8 standard deviations out"
    assert [w.key for w in export(floored, t + 2001 * MIN, "odd", 400)] == ["odd"]
