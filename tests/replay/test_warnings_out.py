"""``riskloop backtest FILE --warnings-out W``: every warning, one row each, in the format
W's extension names, read back with pandas or orjson."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pytest

from envelope.events import RiskWarning
from replay.backtest import backtest
from replay.formats import write_events
from riskloop.cli import main

RULES = {
    "bulk-read.yaml": """\
id: bulk-read
title: many reads by one account
severity: critical
type: threshold
match: {type: data.access}
group_by: [attrs.account]
window: 1h
aggregate: count
condition: {gte: 3}
""",
    "overdue.yaml": """\
id: overdue
title: accepted, not decided within an hour
severity: medium
type: absence
group_by: [attrs.application_id]
anchor: {type: application.accepted}
fulfilled_by: {type: application.decided}
deadline: {after: 1h}
""",
}
FLAT = ("id", "rule_id", "severity", "ts", "region", "department", "key", "stage", "value")


def ev(n: int, ts: str, etype: str, region: str, **attrs: Any) -> dict[str, Any]:
    return {
        "id": f"evt-{n}",
        "type": etype,
        "stream": "service",
        "ts": f"2026-03-{ts}+08:00",
        "source": "s",
        "region": region,
        "department": "d",
        "entity": {"kind": "staff", "id": "x"},
        "attrs": attrs,
    }


@pytest.fixture
def run(tmp_path: Path) -> tuple[Path, Path]:
    rules = tmp_path / "rules"
    rules.mkdir()
    for name, text in RULES.items():
        (rules / name).write_text(text)
    events = [
        ev(1, "02T09:00:00", "application.accepted", "330108", application_id="A-2"),
        *(ev(2 + i, f"02T09:0{i}:00", "data.access", "330106", account="stf-1") for i in range(3)),
        *(ev(5 + i, f"03T10:0{i}:00", "data.access", "330106", account="stf-1") for i in range(4)),
        ev(9, "03T12:00:00", "data.access", "330102", account="stf-2"),
    ]
    path = tmp_path / "days.jsonl"
    write_events(events, path)
    return path, rules


def _backtest(run: tuple[Path, Path], out: Path, capsys: pytest.CaptureFixture[str]) -> int:
    path, rules = run
    assert main(["backtest", str(path), "--rules", str(rules), "--warnings-out", str(out)]) == 0
    printed = capsys.readouterr().out
    [count] = re.findall(r"^warnings: (\d+)$", printed, re.M)  # the report's printed count
    assert f"wrote {count} warnings to {out}" in printed
    return int(count)


def test_jsonl_holds_every_warning_whole(
    run: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "w.jsonl"
    printed = _backtest(run, out, capsys)

    rows = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    expected = backtest(run[0], run[1]).warnings
    assert printed == len(rows) == len(expected) == 3
    for row, warning in zip(rows, expected, strict=True):
        assert row["ts"] == pd.Timestamp(warning.ts_ms, unit="ms", tz="+08:00").isoformat(
            timespec="milliseconds"
        )
        assert row["ts"].endswith("+08:00")  # the file's own offset
        del row["ts"]
        assert RiskWarning.from_dict(row) == warning  # the whole warning, nothing lost


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_csv_and_parquet_hold_flat_columns_with_the_same_ids(
    run: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], suffix: str
) -> None:
    out = tmp_path / f"w{suffix}"
    printed = _backtest(run, out, capsys)

    table = pd.read_csv(out, dtype={"region": str}) if suffix == ".csv" else pd.read_parquet(out)
    expected = backtest(run[0], run[1]).warnings
    assert printed == len(table) == 3
    assert list(table["id"]) == [w.id for w in expected]
    assert table["id"].is_unique
    assert sorted(table["rule_id"]) == ["bulk-read", "bulk-read", "overdue"]
    assert set(FLAT + ("title",)) <= set(table.columns)
    first = table.iloc[0]
    assert (first["rule_id"], first["severity"], first["key"], first["region"]) == (
        "bulk-read",
        "critical",
        "stf-1",
        "330106",
    )
    assert (first["stage"], first["value"], first["title"]) == (
        "fired",
        3.0,
        "many reads by one account",
    )
    assert pd.Timestamp(first["ts"]) == pd.Timestamp(expected[0].ts_ms, unit="ms", tz="UTC")
    assert orjson.loads(first["details"]) == expected[0].details


def test_no_warnings_still_writes_the_columns(
    run: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, rules = run
    quiet = tmp_path / "quiet.jsonl"
    write_events([ev(1, "02T09:00:00", "data.access", "330106", account="stf-9")], quiet)
    out = tmp_path / "none.parquet"
    assert main(["backtest", str(quiet), "--rules", str(rules), "--warnings-out", str(out)]) == 0
    assert "wrote 0 warnings" in capsys.readouterr().out
    table = pd.read_parquet(out)
    assert len(table) == 0 and set(FLAT) <= set(table.columns)


def test_a_bad_extension_is_refused_before_the_run(
    run: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, rules = run
    out = tmp_path / "w.xlsx"
    code = main(["backtest", str(path), "--rules", str(rules), "--warnings-out", str(out)])
    captured = capsys.readouterr()
    assert code == 2
    assert "w.xlsx" in captured.err
    assert ".jsonl, .csv or .parquet" in captured.err
    assert "warnings:" not in captured.out  # nothing ran
    assert not out.exists()
