"""The benchmark runs on a tiny simulation and prints its figures (no timing asserted)."""

from __future__ import annotations

import pytest

from rules.tools.bench import main


def test_bench_prints_figures(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--days", "1", "--scale", "0.05", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "throughput:" in out and "events/s" in out and "by CPU time" in out
    assert "goal 100,000 events/s on one core:" in out
    for rtype in ("threshold", "absence", "spike", "new_value", "sequence", "match", "ratio"):
        assert f"  {rtype} " in out
    assert "staff-bulk-access" in out and "B" in out.splitlines()[-1]
