"""Answers that depend on the events alone: a simulated week through ``backtest`` with 1, 4
and 12 partitions, whatever field a producer would key by, raises exactly the warnings of one
engine over the whole file in event-time order."""

from __future__ import annotations

from pathlib import Path

import pytest

from envelope.build import event_at
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


LISTED_FEEDS = """\
id: feed-silent
title: a listed feed stopped delivering
type: absence
group_by: [attrs.feed]
heartbeat: {match: {type: feed.delivered}, every: 1h, keys: [tax, land, health, water, power]}
"""


@pytest.mark.parametrize("partitions", [1, 4, 12])
def test_a_listed_feed_that_beats_is_silent_on_no_shard(tmp_path, partitions):
    """Five listed feeds, four delivering every half hour and one never: whatever the
    partition count, backtest reports the one silent feed, as one engine does, and not the
    delivering feeds on the shards their beats never reach."""
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "feeds.yaml").write_text(LISTED_FEEDS, encoding="utf-8")
    t0 = 1_772_413_200_000
    beats = [
        event_at(ts_ms=t0 + m * 1_800_000, id=f"{feed}-{m}", type="feed.delivered", feed=feed)
        for m in range(6)
        for feed in ("tax", "land", "health", "water")
    ]
    path = tmp_path / "feeds.jsonl"
    path.write_bytes(b"".join(e.to_json() + b"\n" for e in beats))
    report = backtest(path, rules, partitions=partitions, now_ms=beats[-1].ts_ms)
    assert report.rejected == 0
    assert sorted({w.key for w in report.warnings}) == ["power"]
