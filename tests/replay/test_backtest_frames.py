"""Backtest results as DataFrames: they say what the report says, rule by rule and day by day,
and two rule versions compare side by side."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pytest

from replay.backtest import backtest
from replay.backtest_frames import backtest_frames, compare, precision, read_dispositions
from replay.formats import write_events

BULK = """\
id: bulk-read
title: many reads by one account
severity: critical
tags: [scenario:staff_bulk_access]
type: threshold
match: {type: data.access}
group_by: [attrs.account]
window: 1h
aggregate: count
condition: {gte: %d}
"""
QUIET = """\
id: quiet
title: never fires
severity: low
type: match
match: {type: nothing.here}
group_by: [region]
"""


def ev(n: int, ts: str, account: str) -> dict[str, Any]:
    return {
        "id": f"evt-{n}",
        "type": "data.access",
        "stream": "service",
        "ts": f"2026-03-{ts}+08:00",
        "source": "s",
        "region": "330106",
        "department": "d",
        "entity": {"kind": "staff", "id": account},
        "attrs": {"account": account},
    }


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    out = {}
    for name, threshold in (("v1", 3), ("v2", 5)):
        rules = tmp_path / name
        rules.mkdir()
        (rules / "bulk.yaml").write_text(BULK % threshold)
        (rules / "quiet.yaml").write_text(QUIET)
        out[name] = rules
    events = [ev(i, f"02T09:0{i}:00", "stf-1") for i in range(4)]
    events += [ev(10 + i, f"03T23:{10 + i}:00", "stf-2") for i in range(6)]
    events += [ev(20 + i, f"04T10:0{i}:00", "stf-3") for i in range(3)]
    out["events"] = tmp_path / "days.jsonl"
    write_events(events, out["events"])
    out["events"].write_text(out["events"].read_text() + "{bad\n")
    labels = [
        {"scenario": "staff_bulk_access", "key": k, "start": f"2026-03-0{d}T00:00:00+08:00"}
        | {"end": f"2026-03-0{d}T23:59:00+08:00"}
        for k, d in (("stf-1", 2), ("stf-2", 3), ("stf-9", 5))
    ]
    out["labels"] = tmp_path / "labels.jsonl"
    out["labels"].write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in labels))
    return out


def test_frames_say_what_the_report_says(files: dict[str, Path]) -> None:
    report = backtest(files["events"], files["v1"], labels_path=files["labels"])
    frames = backtest_frames(report)

    w = frames.warnings
    assert list(w["id"]) == [x.id for x in report.warnings]
    assert {"id", "rule_id", "severity", "ts", "region", "department", "key"} <= set(w.columns)
    assert str(w["ts"].dt.tz) == "UTC+08:00"
    assert list(w["key"]) == ["stf-1", "stf-2", "stf-3"]
    assert w["tags"].iloc[0] == ["scenario:staff_bulk_access"]
    assert frames.by_rule.loc["bulk-read", "warnings"] == report.by_rule["bulk-read"] == 3
    assert frames.by_rule.loc["bulk-read", "critical"] == 3
    assert frames.by_rule.loc["bulk-read", "keys"] == 3
    assert frames.by_rule.loc["quiet"].tolist()[:2] == [0, 0]  # a silent rule has its row
    by_day = {str(day): n for day, n in frames.by_day["warnings"].items()}
    assert by_day == dict(report.by_day) == {"2026-03-02": 1, "2026-03-03": 1, "2026-03-04": 1}
    assert frames.by_day.loc[pd.Timestamp("2026-03-03").date(), "bulk-read"] == 1
    score = frames.scores.loc["staff_bulk_access"]
    assert (score["labels"], score["detected"], score["warnings"], score["matched"]) == (3, 2, 3, 2)
    assert score["recall"] == pytest.approx(2 / 3)
    assert list(frames.rejects["row"]) == [14]
    assert frames.rejects["reason"].iloc[0].startswith("bad JSON")


def test_two_rule_versions_compare_side_by_side(files: dict[str, Path]) -> None:
    runs = {
        name: backtest_frames(backtest(files["events"], files[name], labels_path=files["labels"]))
        for name in ("v1", "v2")
    }
    table = compare(runs)
    assert table.loc["bulk-read", ["warnings_v1", "warnings_v2", "change"]].tolist() == [3, 1, -2]
    assert table.loc["bulk-read", "recall_v1"] == pytest.approx(2 / 3)
    assert table.loc["bulk-read", "recall_v2"] == pytest.approx(1 / 3)
    assert table.loc["quiet", "warnings_v2"] == 0


def test_precision_per_rule_from_the_inspectors_verdicts(
    files: dict[str, Path], tmp_path: Path
) -> None:
    frames = backtest_frames(backtest(files["events"], files["v1"]))
    ids = list(frames.warnings["id"])
    verdicts = [
        {"kind": "disposition", "id": "d1", "clue_id": "c1", "rule_id": "bulk-read"}
        | {"key": "stf-1", "outcome": "confirmed", "code": "x", "actor": "a", "ts_ms": 1}
        | {"warning_ids": [ids[0], ids[1]]},
        {"kind": "disposition", "id": "d2", "clue_id": "c2", "rule_id": "bulk-read"}
        | {"key": "stf-3", "outcome": "dismissed", "code": "y", "actor": "a", "ts_ms": 2}
        | {"warning_ids": [ids[2], "w-from-another-run"]},
    ]
    path = tmp_path / "verdicts.jsonl"
    path.write_bytes(b"".join(orjson.dumps(v) + b"\n" for v in verdicts))

    table = precision(frames, read_dispositions(path))
    row = table.loc["bulk-read"]
    assert (row["warnings"], row["confirmed"], row["dismissed"], row["judged"]) == (3, 2, 1, 3)
    assert row["precision"] == pytest.approx(2 / 3)
    assert pd.isna(table.loc["quiet", "precision"])
