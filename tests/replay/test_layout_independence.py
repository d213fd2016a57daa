"""Answers that depend on the events alone: a simulated week through ``backtest`` with 1, 4
and 12 partitions, whatever field a producer would key by, raises exactly the warnings of one
engine over the whole file in event-time order."""

from __future__ import annotations

from pathlib import Path

import pytest

from envelope.settings import DEFAULT_RULES_DIR
from replay.backtest import backtest
from replay.formats import read_rows
from replay.simulator import simulate_to_file
from rules import load_rules
from rules.engine.engine import Engine


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("layout") / "week.jsonl"
    simulate_to_file(path, 23, days=4)
    return path


@pytest.fixture(scope="module")
def one_engine(week: Path) -> tuple[int, set[str]]:
    """The reference: one engine, every event in event-time order, the file closed at its end."""
    events = sorted((e for *_, e in read_rows(week) if e is not None), key=lambda e: e.ts_ms)
    now_ms = events[-1].ts_ms
    engine = Engine(load_rules(DEFAULT_RULES_DIR))
    ids: set[str] = set()
    for event in events:
        if engine.admit(event, now_ms).ok:
            ids |= {w.id for w in engine.process(event)}
    ids |= {w.id for w in engine.advance_to(events[-1].ts_ms)}
    return now_ms, ids


@pytest.mark.parametrize(
    ("partitions", "producer_key"), [(1, "region"), (4, "attrs.account"), (12, "id")]
)
def test_backtest_raises_what_one_engine_raises(week, one_engine, partitions, producer_key):
    """The producer's key only lays out an open end: a closed run neither needs nor uses it
    (most events have no ``attrs.account``, and none is rejected for it)."""
    now_ms, want = one_engine
    report = backtest(
        week, DEFAULT_RULES_DIR, partitions=partitions, partition_field=producer_key, now_ms=now_ms
    )
    assert len(want) >= 20 and report.rejected == 0
    assert {w.id for w in report.warnings} == want
