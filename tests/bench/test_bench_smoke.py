"""``riskloop bench`` on a small file prints a measured figure for every row (no timing asserts)."""

from __future__ import annotations

import doctest

import pytest

from riskloop import bench, bench_workers


def test_format_table_examples() -> None:
    assert doctest.testmod(bench).failed == 0


@pytest.mark.slow
@pytest.mark.integration
def test_bench_prints_positive_figures_for_each_row(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.run_bench(events=3000) == 0
    lines = capsys.readouterr().out.splitlines()
    batched = bench_workers.batched_label(bench.DEFAULT_BATCH)
    for label in (bench.BASELINE, bench.WORKER, batched, bench.BACKTEST):
        [line] = [line for line in lines if line.startswith(label)]
        figures = [float(x.replace(",", "")) for x in line.removeprefix(label).split()]
        assert len(figures) == 4 and all(f > 0 for f in figures), line  # events, s, ev/s, ratio


def test_latency_goal_examples() -> None:
    from riskloop import bench_latency

    assert doctest.testmod(bench_latency).failed == 0


def test_the_latency_listener_stops_before_its_connection_closes(redis_url: str) -> None:
    from riskloop.bench_latency import Arrivals

    arrivals = Arrivals(redis_url)
    arrivals.close()
    assert not arrivals.thread.is_alive()  # nothing left reading once Redis goes away
