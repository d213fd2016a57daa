"""Detection quality of the shipped rules on a simulated week none of the other tests use."""

from __future__ import annotations

from envelope.settings import DEFAULT_RULES_DIR
from replay.backtest import backtest
from replay.score import format_table
from replay.simulator import simulate_to_file

SCENARIOS = ("approval_overdue", "repeated_submissions", "hotline_surge", "staff_bulk_access")


def test_shipped_rules_find_every_injected_scenario_kind(tmp_path, capsys):
    path = tmp_path / "week.jsonl"
    simulate_to_file(path, 20261123, days=7)
    report = backtest(
        path, DEFAULT_RULES_DIR, partitions=4, labels_path=tmp_path / "week.labels.jsonl"
    )
    scores = report.scores
    with capsys.disabled():  # the figures are part of the result: shown even when tests pass
        print(f"\ndetection on a simulated week (seed 20261123):\n{format_table(scores)}")
    for kind in SCENARIOS:
        s = scores[kind]
        assert s.labels > 0, f"the simulator injected no {kind}"
        assert s.recall >= 0.9, f"{kind}: recall {s.recall:.2f} < 0.9"
        assert s.precision >= 0.8, f"{kind}: precision {s.precision:.2f} < 0.8"
    # the detector rule learns each district's usual from scratch here (no seed): a burst in a
    # district's first days can pass unseen, so its recall bar is lower
    s = scores["approver_anomaly"]
    assert s.labels > 0, "the simulator injected no approver_anomaly"
    assert s.recall >= 0.75, f"approver_anomaly: recall {s.recall:.2f} < 0.75"
    assert s.precision >= 0.8, f"approver_anomaly: precision {s.precision:.2f} < 0.8"
