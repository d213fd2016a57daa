"""Seed files: each partition learns only its own events, and a seeded backtest does not
flood with first-seen values the way a fresh one does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from event_factories import make_event

from envelope.partitioning import partition_for
from replay.formats import FormatError
from replay.seed import SeedFile
from riskloop.cli import main
from rules import RuleSet
from rules.engine.keyspace import KeyPlan
from rules.language.model import parse_rule

T0 = 1_772_413_200_000  # 2026-03-02T09:00:00+08:00
DAY = 86_400_000
REGIONS = ("330102", "330105", "330106", "330108", "330109", "330110", "330111", "330112")
NEW_DATASET = """\
id: new-dataset
title: Staff account reads a dataset it never read before
severity: low
type: new_value
match: {type: data.access}
group_by: [attrs.account]
fields: [attrs.dataset]
lookback: 30d
"""


def _write(path: Path, events: list) -> Path:
    path.write_bytes(b"\n".join(ev.to_json() for ev in events) + b"\n")
    return path


def _reads(day: int, pairs: list[tuple[str, str]], region: str = "330106") -> list:
    return [
        make_event(
            ts_ms=T0 + day * DAY + i * 60_000,
            type="data.access",
            region=region,
            account=account,
            dataset=dataset,
        )
        for i, (account, dataset) in enumerate(pairs)
    ]


KNOWN = [("stf-1", "tax"), ("stf-1", "household"), ("stf-2", "tax"), ("stf-3", "medical")]


@pytest.mark.parametrize("partitions", [1, 3, 4, 12])
def test_each_shard_learns_the_events_of_its_own_keys(tmp_path, partitions):
    """An event goes to the shard its key hashes to in each key space that can use it (the
    account, whatever the region), and nowhere else."""
    events = [
        make_event(ts_ms=T0 + i, type="data.access", region=region, account=f"stf-{i % 3}")
        for i, region in enumerate(REGIONS)
    ]
    seed = SeedFile(_write(tmp_path / "seed.jsonl", events), partitions)
    plan = KeyPlan(RuleSet([parse_rule(NEW_DATASET, "new.yaml")]))
    seen = []
    for p in range(partitions):
        for space, ev in seed(p, plan):
            assert space == "events:attrs.account"
            assert partition_for(ev.attrs["account"].encode(), partitions) == p
            seen.append(ev.id)
    assert sorted(seen) == sorted(ev.id for ev in events) and seed.events == len(events)


def test_a_bad_seed_row_is_named_before_anything_runs(tmp_path):
    path = _write(tmp_path / "seed.jsonl", _reads(0, KNOWN))
    path.write_text(path.read_text() + '{"id": "x", "type": "data.access"}\n')
    with pytest.raises(FormatError, match=rf"seed file {path} row 5: missing field 'stream'"):
        SeedFile(path, 4)
    with pytest.raises(FormatError, match="seed file .*missing.jsonl not found"):
        SeedFile(tmp_path / "missing.jsonl", 4)


def test_backtest_as_a_seeded_deployment_fires_only_the_really_new_value(tmp_path, capsys):
    """Unseeded, every account's first datasets are 'new'; seeded with last week, only
    stf-1 reading the medical dataset is."""
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "new.yaml").write_text(NEW_DATASET)
    seed = _write(tmp_path / "last-week.jsonl", _reads(0, KNOWN))
    live = _write(tmp_path / "today.jsonl", _reads(7, [*KNOWN, ("stf-1", "medical")]))

    argv = ["backtest", str(live), "--rules", str(rules), "--partitions", "4"]
    assert main(argv) == 0
    fresh = capsys.readouterr().out
    assert "warnings: 5" in fresh
    assert main([*argv, "--seed", str(seed)]) == 0
    seeded = capsys.readouterr().out
    assert "warnings: 1" in seeded and "seeded with 4 events from" in seeded

    argv = ["rules", "backtest", str(live), "--rules", str(rules), "--format", "json"]
    assert main([*argv, "--seed", str(seed)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["warnings"], doc["per_rule"], doc["seed"]["events"]) == (1, {"new-dataset": 1}, 4)
    assert main([*argv, "--seed", str(tmp_path / "nope.jsonl")]) == 2
    assert "nope.jsonl not found" in capsys.readouterr().err
