"""Benchmark of the data engineer's paths: ``python -m riskloop.bench_files``.

Prints figures, asserts nothing. On one file of simulated city events (``--events``):

1. file -> broker: ``riskloop replay --max`` to an embedded Tansu broker on loopback, with
   batched messages (``--batch`` events a message) and, for comparison, one event a message;
2. file -> DataFrame: :func:`replay.frames.iter_frames` over the same events as JSON lines,
   CSV and Parquet, chunk by chunk, with the peak memory of reading half and all of it (flat
   in the file size when the two agree).

Goals from issue 14: file -> broker >= 50,000 events/s with batched messages; file ->
DataFrame >= 200,000 rows/s. Each figure is printed with its ratio to the goal.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from riskloop.bench import machine_facts, write_bench_file
from riskloop.services import ServiceGroup, start_tansu
from riskloop.topic_admin import create_topics, riskloop_topics

PARTITIONS = 4
BROKER_GOAL = 50_000
FRAME_GOAL = 200_000


def bench_publish(path: Path, bootstrap: str, batch: int | None) -> tuple[int, float, int]:
    """``(events sent, seconds, messages)`` of publishing the whole file at full speed."""
    from replay.publish import publish

    report = asyncio.run(publish(path, bootstrap, max_speed=True, progress=False, batch=batch))
    if report.interrupted:
        raise KeyboardInterrupt
    if report.failed or report.rejected:
        print(f"  warning: {report.failed} failed, {report.rejected} rejected", file=sys.stderr)
    return report.sent, report.elapsed_s, report.records


def bench_frames(path: Path) -> tuple[int, float]:
    """``(rows, seconds)`` of reading the file into DataFrames, chunk by chunk."""
    from replay.frames import iter_frames

    started = time.perf_counter()
    rows = sum(len(chunk.events) for chunk in iter_frames(path))
    return rows, time.perf_counter() - started


def peak_memory_mb(path: Path, chunksize: int) -> float:
    """Peak memory (Python objects and pyarrow's buffers) of reading ``path`` chunk by chunk."""
    from replay.frames import iter_frames

    pool = pa.default_memory_pool()
    arrow_before = pool.max_memory() or 0
    tracemalloc.start()
    for _ in iter_frames(path, chunksize=chunksize):
        pass
    _, python_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    arrow_peak = max(0, (pool.max_memory() or 0) - arrow_before)
    return (python_peak + arrow_peak) / 1e6


def line(name: str, count: int, seconds: float, goal: int | None) -> str:
    rate = count / seconds if seconds > 0 else 0.0
    against = f"{rate / goal:5.2f}x the goal of {goal:,}/s" if goal else ""
    return f"  {name:<40} {count:>9,} in {seconds:6.2f} s = {rate:>9,.0f}/s   {against}"


def run(events: int, batch: int) -> int:
    from replay.formats import write_events
    from replay.frames import read_frame

    print(machine_facts())
    with ServiceGroup() as group:
        jsonl = group.root / "bench.jsonl"
        n = write_bench_file(jsonl, events)
        envelopes = read_frame(jsonl).events  # checks the file reads whole before timing
        if len(envelopes) != n:
            raise SystemExit(f"bench file: {len(envelopes)} of {n} rows read")
        files = {"JSON lines": jsonl}
        for name, suffix in (("CSV", ".csv"), ("Parquet", ".parquet")):
            files[name] = group.root / f"bench{suffix}"
            write_events(_envelopes(jsonl), files[name])
        broker = group.add(start_tansu(group.workdir("tansu")))
        asyncio.run(create_topics(broker.bootstrap, riskloop_topics(PARTITIONS)))
        print(f"file: {n:,} simulated city events, {PARTITIONS} partitions, Tansu on loopback")
        print("file -> broker (replay --max, acks=all):")
        sent, seconds, records = bench_publish(jsonl, broker.bootstrap, batch)
        print(line(f"batched, up to {batch} events a message", sent, seconds, BROKER_GOAL))
        print(f"  ({records:,} messages, {sent / max(records, 1):,.0f} events each)")
        sent, seconds, _ = bench_publish(jsonl, broker.bootstrap, None)
        print(line("one event a message", sent, seconds, None))
        print("file -> DataFrame (replay.frames.iter_frames, typed, rejects checked):")
        for name, path in files.items():
            print(line(name, *bench_frames(path), FRAME_GOAL))
        print(memory_line(jsonl, n, group.root / "half.jsonl"))
    return 0


def memory_line(path: Path, n: int, half: Path, chunksize: int = 20_000) -> str:
    """Peak memory reading half the file and all of it: flat in the file size if alike."""
    with path.open("rb") as src, half.open("wb") as dst:
        dst.writelines(itertools.islice(src, n // 2))
    small, big = peak_memory_mb(half, chunksize), peak_memory_mb(path, chunksize)
    return (
        f"peak memory reading JSON lines in chunks of {chunksize:,} rows: {small:.0f} MB for "
        f"{n // 2:,} rows, {big:.0f} MB for {n:,} rows ({big / small:.2f}x for 2x the rows)"
    )


def _envelopes(path: Path) -> Iterator[dict[str, Any]]:
    from replay.formats import read_events

    return (envelope for _, envelope, _, _ in read_events(path) if envelope is not None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m riskloop.bench_files", description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=500, help="events a message when batched")
    args = parser.parse_args(argv)
    return run(args.events, args.batch)


if __name__ == "__main__":
    sys.exit(main())
