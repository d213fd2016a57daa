"""The simulator's ``high_rejection`` variant: officials who reject most of their decisions
for three working days at their usual load, which the shipped official-rejection-rate rule
finds with no warning of any other official."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest

from envelope.settings import DEFAULT_RULES_DIR
from replay.backtest import backtest
from replay.simulator import generate, labels_path, simulate_to_file

pytestmark = pytest.mark.slow  # a simulated week at full scale
SEED = 43  # not a seed of the other simulator tests
RULE = "official-rejection-rate.yaml"


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rejections") / "week.jsonl"
    simulate_to_file(path, SEED, days=7, variants=("high_rejection",))
    return path


def _decisions(events: list[dict]) -> Counter[tuple[str, str]]:
    return Counter(
        (e["attrs"]["official"], e["attrs"]["decision"])
        for e in events
        if e["type"] == "application.decided"
    )


def test_strict_officials_decide_as_often_as_before_and_reject_most(week: Path) -> None:
    plain, plain_labels = generate(SEED, days=7)
    varied, varied_labels = generate(SEED, days=7, variants=("high_rejection",))
    strict = [lab for lab in varied_labels if lab["scenario"] == "official_high_rejection"]
    assert len(strict) >= 4 and [lab for lab in varied_labels if lab not in strict] == plain_labels
    before, after = _decisions(plain), _decisions(varied)
    for lab in strict:
        o = lab["key"]
        assert before[(o, "approved")] + before[(o, "rejected")] == (
            after[(o, "approved")] + after[(o, "rejected")]
        )  # the same decisions, not more
        assert after[(o, "rejected")] > before[(o, "rejected")] + 5
    others = {o for o, _ in before} - {lab["key"] for lab in strict}
    assert all(before[(o, d)] == after[(o, d)] for o in others for d in ("approved", "rejected"))


def test_the_shipped_rule_finds_every_strict_official_and_no_other(
    week: Path, tmp_path: Path
) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    for name in ("_shared.yaml", RULE):
        shutil.copy(DEFAULT_RULES_DIR / name, rules / name)
    report = backtest(week, rules, labels_path=labels_path(week))
    assert report.scores is not None
    s = report.scores["official_high_rejection"]
    assert s.labels >= 4 and s.recall is not None and s.recall >= 0.9, s
    assert s.precision is not None and s.precision >= 0.8, s
