"""The shipped rules find the simulator's cross-district cases in a backtest: a citizen at two
district halls, one account behind enterprises of four districts, a finding in one district and
a deregistration in another. Engines on a region-keyed producer's partitions would find none."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import orjson
import pytest

from envelope.events import Event
from envelope.partitioning import partition_for
from envelope.settings import DEFAULT_RULES_DIR
from replay.backtest import BacktestReport, backtest
from replay.formats import read_rows
from replay.score import format_table, score
from replay.sim_cross import PRODUCER_PARTITIONS
from replay.simulator import simulate_to_file
from rules import load_rules
from rules.engine.engine import Engine

CROSS = ("cross_district_resubmissions", "shared_bank_account", "dereg_after_finding")
SEED = 41


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cross") / "week.jsonl"
    simulate_to_file(path, SEED, days=7)
    return path


@pytest.fixture(scope="module")
def runs(week: Path) -> dict[int, BacktestReport]:
    labels = week.with_name("week.labels.jsonl")
    return {
        n: backtest(week, DEFAULT_RULES_DIR, partitions=n, labels_path=labels) for n in (1, 4, 12)
    }


def test_the_shipped_rules_find_every_cross_district_case_on_4_partitions(runs, capsys):
    scores = runs[4].scores
    with capsys.disabled():  # the figures are part of the result: shown even when tests pass
        print(f"\ncross-district detection (seed {SEED}, 4 partitions):\n{format_table(scores)}")
    for scenario in CROSS:
        s = scores[scenario]
        assert s.labels >= 2, f"the simulator injected too few {scenario}"
        assert s.recall == 1.0, f"{scenario}: missed {s.missed}"
        assert s.precision is not None and s.precision >= 0.8, f"{scenario}: {s.precision}"


def test_the_answer_is_the_same_on_1_4_and_12_partitions(runs):
    ids = {n: {w.id for w in report.warnings} for n, report in runs.items()}
    assert ids[1] == ids[4] == ids[12]
    figures = {
        n: {k: (s.detected, s.matched, s.warnings) for k, s in r.scores.items()}
        for n, r in runs.items()
    }
    assert figures[1] == figures[4] == figures[12]


def _events(path: Path) -> list[Event]:
    return sorted((e for *_, e in read_rows(path) if e is not None), key=lambda e: e.ts_ms)


def test_engines_on_a_region_keyed_producers_partitions_find_none_of_them(week, runs):
    """What every rule did before events were re-keyed: one engine per partition of the
    producer's region key sees each district's share of a key alone."""
    events = _events(week)
    by_partition: dict[int, list[Event]] = defaultdict(list)
    for e in events:
        by_partition[partition_for(e.region.encode(), PRODUCER_PARTITIONS)].append(e)
    warnings = []
    for part in by_partition.values():
        engine = Engine(load_rules(DEFAULT_RULES_DIR))
        for event in part:
            if engine.admit(event, events[-1].ts_ms).ok:
                warnings += engine.process(event)
        warnings += engine.advance_to(events[-1].ts_ms)
    lines = week.with_name("week.labels.jsonl").read_bytes().splitlines()
    scores = score(warnings, [orjson.loads(line) for line in lines])
    assert all(scores[s].detected == 0 for s in CROSS), {s: scores[s].detected for s in CROSS}
    assert all(runs[4].scores[s].detected == scores[s].labels > 0 for s in CROSS)
    assert scores["repeated_submissions"].recall == 1.0  # a district's own cases stay found
