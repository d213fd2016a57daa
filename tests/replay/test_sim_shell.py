"""Shell companies as they appear: 5-7 enterprises at one address (typed in several ways)
or one bank account, recorded by the offices of several districts within days. The shipped
rules (5+ within 30 days) find every one and nothing in the background register."""

from __future__ import annotations

import json
import shutil
from collections import defaultdict
from pathlib import Path

import pytest

from replay.backtest import backtest
from replay.formats import write_events
from replay.simulator import generate

LIBRARY = Path(__file__).resolve().parents[2] / "rules" / "library"
SEED = 2711
RULES = ("shell-company-shared-address", "shell-company-shared-bank-account")


@pytest.fixture(scope="module")
def week():
    return generate(SEED, days=7)


def test_the_shared_address_cases_span_districts_and_ways_of_typing(week):
    events, labels = week
    cases = [lb for lb in labels if lb["scenario"] == "shared_address"]
    typed: dict[str, set[str]] = defaultdict(set)
    offices: dict[str, set[str]] = defaultdict(set)
    for e in events:
        if e["type"] == "enterprise.registered":
            key = e["attrs"]["address"].replace(" ", "").replace("浙江省", "").replace("杭州市", "")
            key = key.translate(str.maketrans("０１２３４５６７８９", "0123456789"))
            typed[key].add(e["attrs"]["address"])
            offices[key].add(e["region"])
    assert len(cases) >= 2
    for case in cases:
        assert len(offices[case["key"]]) == 3 and len(typed[case["key"]]) >= 2, case


def test_the_shipped_shell_company_rules_find_every_case_and_no_background(week, tmp_path):
    events, labels = week
    rules = tmp_path / "rules"
    rules.mkdir()
    for name in ("_shared", *RULES):
        shutil.copy(LIBRARY / f"{name}.yaml", rules)
    write_events(events, tmp_path / "week.jsonl")
    (tmp_path / "labels.jsonl").write_text("".join(json.dumps(lb) + "\n" for lb in labels))
    scores = backtest(tmp_path / "week.jsonl", rules, labels_path=tmp_path / "labels.jsonl").scores
    for scenario in ("shared_address", "shared_bank_account"):
        s = scores[scenario]
        assert s.labels >= 2 and (s.recall, s.precision) == (1.0, 1.0), (scenario, s.missed)
