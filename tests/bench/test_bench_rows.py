"""The options and rows of ``riskloop bench`` beyond the single-event worker (no timed asserts)."""

from __future__ import annotations

import doctest

from riskloop import bench, bench_workers
from riskloop.bench import Row, format_table
from riskloop.bench_workers import batched_label, format_goals, kafka_label
from riskloop.cli import build_parser


def test_bench_options_parse_with_their_defaults() -> None:
    default = build_parser().parse_args(["bench"])
    assert (default.batch, default.kafka_workers) == (1000, False)
    chosen = build_parser().parse_args(["bench", "--kafka-workers", "--batch", "250"])
    assert (chosen.batch, chosen.kafka_workers) == (250, True)


def test_bench_refuses_a_negative_batch_before_starting_anything() -> None:
    assert bench.run_bench(events=1000, batch=-1) == 2


def test_table_holds_the_batched_and_kafka_rows_with_their_ratio_to_the_baseline() -> None:
    rows = [Row(bench.BASELINE, 4000, 1.0), Row(bench.WORKER, 2000, 1.0)]
    rows += [Row(batched_label(1000), 40_000, 0.5)]
    rows += [Row(kafka_label(k), 2000 * k, 1.0) for k in (1, 2, 3)]
    lines = format_table(rows).splitlines()
    assert len(lines) == 1 + len(rows)
    ratios = {row.name: line.split()[-1] for row, line in zip(rows, lines[1:], strict=True)}
    assert ratios[batched_label(1000)] == "20.00"
    assert [ratios[kafka_label(k)] for k in (1, 2, 3)] == ["0.50", "1.00", "1.50"]


def test_goals_name_each_goal_whose_rows_ran() -> None:
    goals = format_goals([Row(bench.BASELINE, 4000, 1.0), Row(bench.WORKER, 3800, 1.0)])
    assert "0.95x (goal >= 0.9x): met" in goals
    assert "batched" not in goals and "Apache Kafka" not in goals


def test_examples_in_the_docstrings() -> None:
    assert doctest.testmod(bench_workers).failed == 0
