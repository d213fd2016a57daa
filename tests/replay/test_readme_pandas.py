"""The README's pandas example runs as written: a simulated month's first days as
``march.jsonl`` and ``march.parquet``, the library rules against a candidate that fires the
repeated-submissions rule earlier, and an inspector's verdict on one of its warnings."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pytest

from envelope.settings import DEFAULT_RULES_DIR
from replay.backtest import backtest
from replay.formats import read_events, write_events
from replay.simulator import simulate_to_file

ROOT = Path(__file__).resolve().parents[2]
RULE = "repeated-submissions"


def _example() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Working in pandas") :]
    found = re.search(r"```python\n(.*?)```", section, re.S)
    assert found, "the Working in pandas section has a python example"
    return found.group(1)


@pytest.fixture
def month(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    simulate_to_file(tmp_path / "march.jsonl", 5, days=3)
    envelopes = (e for _, e, _, _ in read_events(tmp_path / "march.jsonl") if e is not None)
    write_events(envelopes, tmp_path / "march.parquet")
    shutil.copytree(DEFAULT_RULES_DIR, tmp_path / "rules" / "library")
    candidate = shutil.copytree(DEFAULT_RULES_DIR, tmp_path / "rules" / "candidate")
    rule = candidate / f"{RULE}.yaml"
    text = rule.read_text()
    assert "condition: {gte: 4}" in text and "version: 1" in text
    rule.write_text(text.replace("{gte: 4}", "{gte: 2}").replace("version: 1", "version: 2"))
    fired = [w for w in backtest(tmp_path / "march.jsonl", candidate).warnings if w.rule_id == RULE]
    verdict = {"kind": "disposition", "id": "d1", "clue_id": "c1", "rule_id": RULE}
    verdict |= {"key": fired[0].key, "outcome": "confirmed", "code": "x", "actor": "a"}
    verdict |= {"ts_ms": 1, "warning_ids": [fired[0].id]}
    (tmp_path / "verdicts.jsonl").write_bytes(orjson.dumps(verdict) + b"\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_readme_pandas_example_runs_and_compares_two_rule_versions(month: Path) -> None:
    names: dict[str, Any] = {}
    exec(compile(_example(), "README.md", "exec"), names)

    events, table = names["events"], names["table"]
    assert len(events) > 1000 and names["rejects"].empty
    assert (
        isinstance(events["ts"].dtype, pd.DatetimeTZDtype)
        and events["region"].str.len().eq(6).all()
    )
    row = table.loc[RULE]
    assert row["warnings_v2"] > row["warnings_v1"] and row["change"] > 0
    assert (table.drop(index=RULE)["change"] == 0).all()  # only the changed rule moved
    assert names["v2"].warnings["rule_id"].eq(RULE).sum() == row["warnings_v2"]
    judged = names["precision"](names["v2"], names["read_dispositions"]("verdicts.jsonl"))
    assert (judged.loc[RULE, "confirmed"], judged.loc[RULE, "precision"]) == (1, 1.0)
