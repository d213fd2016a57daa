"""The simulator labels the findings left unrectified (ground truth for
inspection-not-rectified), and the shipped rule finds each of them and nothing else."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from replay.backtest import backtest
from replay.formats import write_events
from replay.simulator import generate

LIBRARY = Path(__file__).resolve().parents[2] / "rules" / "library"
SEED = 4127


def test_unrectified_findings_are_labelled_and_found_by_the_shipped_rule(tmp_path: Path):
    events, labels = generate(SEED, days=7, cross_district=False)
    mine = [lb for lb in labels if lb["scenario"] == "inspection_not_rectified"]
    findings = {
        e["attrs"]["inspection_id"]
        for e in events
        if e["type"] == "inspection.performed" and e["attrs"]["result"] == "finding"
    }
    assert len(mine) >= 5 and {lb["key"] for lb in mine} <= findings
    rules = tmp_path / "rules"
    rules.mkdir()
    shutil.copy(LIBRARY / "inspection-not-rectified.yaml", rules)
    write_events(events, tmp_path / "week.jsonl")
    labels_file = tmp_path / "week.labels.jsonl"
    labels_file.write_text("".join(json.dumps(lb) + "\n" for lb in labels))
    s = backtest(tmp_path / "week.jsonl", rules, labels_path=labels_file).scores[
        "inspection_not_rectified"
    ]
    assert (s.recall, s.precision) == (1.0, 1.0), s.missed
