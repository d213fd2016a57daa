"""``riskloop bench``: throughput of the stream path, measured on one generated file.

One run, one simulated city file, single-event Kafka messages keyed by region (the real
publisher), an embedded Tansu broker on loopback. Rows:

1. baseline: a bare Faust agent that only decodes each event and counts
   (``riskloop.bench_agent``, its own process, app id and consumer group);
2. the riskloop worker with the shipped rules (the real ``riskloop worker``, a fresh app id);
3. backtest: the same file straight through the pure core, in this process;
4. the publisher's own rate (``riskloop replay --max``);
5. the worker on batched messages, and (``--kafka-workers``) 1, 2 and 3 workers in one group
   on Apache Kafka: :mod:`riskloop.bench_workers`, which also prints the goals.

The whole file is published before a worker starts, so the broker holds it all; a worker's
rate is taken between the first and the last sample of its event counter that shows
progress (polled every ``POLL_S``), which leaves Faust's ~30 s start-up out. The workers
run one after the other, never together. Figures are printed, nothing is asserted about
time. Every process started is stopped at the end, also on Ctrl-C.
"""

from __future__ import annotations

import asyncio
import os
import platform
import re
import shutil
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import orjson

from envelope.settings import DEFAULT_RULES_DIR
from riskloop.metrics_text import metric_sum
from riskloop.services import (
    Service,
    ServiceError,
    ServiceGroup,
    free_port,
    start_redis,
    start_tansu,
)
from riskloop.topic_admin import create_topics, riskloop_topics

PARTITIONS = 4
SEED = 1
POLL_S = 0.1
DEFAULT_BATCH = 1000  # events a record in the batched row
LATENCY_BURST = 3000  # events sent at once to measure the capacity of the latency row
# Events per simulated week at scale 1.0 (about; the file is cut to the exact count).
_WEEK_AT_SCALE_1 = 50_000
# Row labels, in table order.
BASELINE = "baseline: bare faust agent (decode + count)"
WORKER = "riskloop worker (shipped rules)"
BACKTEST = "backtest (pure core, in-process)"
PUBLISHER = "publisher (replay --max)"


@dataclass(frozen=True)
class Row:
    """One measured line of the table: ``events`` handled in ``elapsed_s`` seconds."""

    name: str
    events: int
    elapsed_s: float

    @property
    def events_per_s(self) -> float:
        return self.events / self.elapsed_s if self.elapsed_s > 0 else 0.0


def run_bench(
    events: int = 20_000,
    batch: int = DEFAULT_BATCH,
    kafka_workers: bool = False,
    latency_s: float = 20.0,
) -> int:
    """Measure every row on a fresh file of ``events`` simulated events; print the table.

    ``batch``: events a record for the batched row (0 leaves it out); ``kafka_workers``: add
    the rows of 1, 2 and 3 workers in one group on Apache Kafka (:mod:`riskloop.bench_workers`);
    ``latency_s``: seconds of the event -> clue latency row (:mod:`riskloop.bench_latency`, 0
    leaves it out).
    """
    from riskloop import bench_latency
    from riskloop import bench_workers as more

    if events < 100 or batch < 0:
        print(
            f"riskloop bench: need --events >= 100 and --batch >= 0, got {events}, {batch}",
            file=sys.stderr,
        )
        return 2
    print(machine_facts())
    with ServiceGroup() as group:
        path = group.root / "bench.jsonl"
        n = write_bench_file(path, events)
        print(
            f"file: {n:,} simulated city events (seed {SEED}), {PARTITIONS} partitions, "
            "single-event messages keyed by region, Tansu broker on loopback",
            flush=True,
        )
        rows = _tansu_rows(group, path, n)
        if batch:
            _progress("riskloop worker on batched messages: second broker, starting")
            rows.insert(2, more.bench_batched(group, path, n, batch, PARTITIONS))
        if kafka_workers:
            rows += more.bench_kafka_workers(group, path, n)
        latency = None
        if latency_s > 0:
            _progress("event -> clue latency: third broker, starting")
            latency = bench_latency.bench_latency(group, PARTITIONS, LATENCY_BURST, latency_s)
    print()
    print(format_table(rows))
    print(f"workers: from the first to the last sample of their event counter (every {POLL_S} s),")
    print("start-up excluded; backtest and publisher: the whole file, timed in this process")
    print(more.format_goals(rows))
    if latency is not None:
        print(latency.line())
        print(bench_latency.format_goal(latency))
    return 0


def _tansu_rows(group: ServiceGroup, path: Path, n: int) -> list[Row]:
    """Baseline, worker, backtest and publisher on single-event messages, one Tansu broker."""
    broker = group.add(start_tansu(group.workdir("tansu")))
    redis = group.add(start_redis(group.workdir("redis"), appendonly=False))
    asyncio.run(create_topics(broker.bootstrap, riskloop_topics(PARTITIONS)))
    published = bench_publish(path, broker.bootstrap, n)
    backtested = bench_backtest(path)
    _progress("baseline agent: starting (faust start-up takes ~30 s)")
    baseline = bench_worker(
        group, "baseline", BASELINE, _baseline_argv(group, broker), n, _agent_count
    )
    _progress("riskloop worker: starting (faust start-up takes ~30 s)")
    argv = worker_argv(group, "riskloop-worker", broker, redis, PARTITIONS)
    riskloop = bench_worker(group, "riskloop-worker", WORKER, argv, n, worker_count)
    broker.stop()
    redis.stop()
    return [baseline, riskloop, backtested, published]


def _progress(text: str) -> None:
    print(f"... {text}", file=sys.stderr, flush=True)


def machine_facts() -> str:
    """Cores, CPU, Python and Faust versions: what the figures depend on (no date, no host)."""
    faust_version = metadata.version("faust-streaming")
    return (
        f"machine: {os.cpu_count()} cores, {_cpu_model()}, "
        f"Python {platform.python_version()} ({platform.python_implementation()}), "
        f"faust-streaming {faust_version}"
    )


def _cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else the architecture."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.machine()
    found = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
    return found.group(1).strip() if found else platform.machine()


def write_bench_file(path: Path, events: int) -> int:
    """Write exactly ``events`` simulated city events (the earliest ones) as JSON lines."""
    from replay.formats import write_events
    from replay.simulator import generate

    scale = max(0.05, events / _WEEK_AT_SCALE_1)
    rows, _labels = generate(SEED, days=7, scale=scale)
    while len(rows) < events:  # the estimate was short: grow until the week holds enough
        scale *= 1.5
        rows, _labels = generate(SEED, days=7, scale=scale)
    return write_events(rows[:events], path)


def bench_publish(path: Path, bootstrap: str, expected: int, batch: int | None = None) -> Row:
    """Publish the whole file as fast as the broker takes it (``batch`` events a record, or
    one); the publisher's own rate."""
    from replay.publish import publish

    report = asyncio.run(publish(path, bootstrap, max_speed=True, progress=False, batch=batch))
    if report.interrupted:
        raise KeyboardInterrupt
    if report.sent != expected:
        raise ServiceError(f"published {report.sent} of {expected} events:\n{report}")
    return Row(PUBLISHER, report.sent, report.elapsed_s)


def bench_backtest(path: Path) -> Row:
    """The same file through the shipped rules in this process, sharded like the topics."""
    from replay.backtest import backtest

    report = backtest(path, DEFAULT_RULES_DIR, partitions=PARTITIONS)
    return Row(BACKTEST, report.events, report.elapsed_s)


# --- workers ------------------------------------------------------------------------------

# Reads a worker's handled-event count from its web port; None while it is not serving.
CountReader = Callable[[int], int | None]


def bench_worker(
    group: ServiceGroup, name: str, label: str, argv: list[str], expected: int, count: CountReader
) -> Row:
    """Start one worker process, time it through ``expected`` events, stop it.

    ``argv`` holds ``{port}`` where the worker's web port goes; ``count(port)`` reads how
    many events it has handled (None while its web server is not up).
    """
    service = launch_worker(group, name, argv, lambda port: count(port) is not None)
    try:
        return Row(label, *_watch(service, expected, count))
    finally:
        service.stop()


def launch_worker(
    group: ServiceGroup, name: str, argv: list[str], ready: Callable[[int], bool]
) -> Service:
    """Start one worker process (``{port}`` in ``argv`` becomes its web port); return once
    ``ready(port)``."""
    port = free_port()
    workdir = group.workdir(name)
    service = Service(
        name,
        [arg.replace("{port}", str(port)) for arg in argv],
        port,
        f"http://127.0.0.1:{port}",
        workdir,
        workdir / f"{name}.log",
        lambda s: ready(s.port),
        ready_timeout_s=120.0,
    )
    return group.add(service.launch())


def _watch(service: Service, expected: int, count: CountReader) -> tuple[int, float]:
    """Poll the counter until it reaches ``expected``; the rate between progress samples."""
    deadline = time.monotonic() + 120.0 + expected / 200
    samples: list[tuple[float, int]] = []
    while not samples or samples[-1][1] < expected:
        before = time.monotonic()
        seen = count(service.port)
        now = (before + time.monotonic()) / 2
        if seen:
            samples.append((now, seen))
        if not service.running():
            raise ServiceError(f"{service.name} exited:\n{service.log_tail()}")
        if now > deadline:
            raise ServiceError(
                f"{service.name} handled only {seen} of {expected} events in time; "
                f"log {service.log_path}:\n{service.log_tail()}"
            )
        time.sleep(POLL_S)
    (t0, c0), (t1, c1) = samples[0], samples[-1]
    if c1 == c0:
        raise ServiceError(
            f"{service.name} took all {expected} events within one {POLL_S} s poll: "
            "use more events to measure it"
        )
    return c1 - c0, t1 - t0


def _get(url: str) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bytes(resp.read())
    except OSError:
        return None


def _agent_count(port: int) -> int | None:
    """Events the baseline agent has handled, or None while its web server is not up."""
    body = _get(f"http://127.0.0.1:{port}/count/")
    if body is None:
        return None
    counts = orjson.loads(body)
    return int(counts["events"]) + int(counts["invalid"])


def worker_count(port: int) -> int | None:
    """Events the riskloop worker has handled (processed + dead-lettered), from /metrics."""
    body = _get(f"http://127.0.0.1:{port}/metrics")
    if body is None:
        return None
    text = body.decode()
    return int(
        metric_sum(text, "riskloop_events_in_total")
        + metric_sum(text, "riskloop_deadletters_total")
    )


def _baseline_argv(group: ServiceGroup, broker: Service) -> list[str]:
    datadir = group.workdir("baseline") / "data"
    argv = [sys.executable, "-m", "riskloop.bench_agent", "--broker", broker.url]
    argv += ["--app-id", f"bench-baseline-{uuid.uuid4().hex[:8]}", "--datadir", str(datadir)]
    return argv + ["--partitions", str(PARTITIONS), "--web-port", "{port}"]


def worker_argv(
    group: ServiceGroup,
    name: str,
    broker: Service,
    redis: Service,
    partitions: int,
    rules_dir: Path = DEFAULT_RULES_DIR,
) -> list[str]:
    """``riskloop worker`` with a fresh app id on ``broker``; ``{port}`` for its web port."""
    datadir = group.workdir(name) / "data"
    datadir.mkdir(exist_ok=True)  # faust makes only the last level of its own data dir
    env = {
        "RISKLOOP_BROKER": broker.url,
        "RISKLOOP_REDIS_URL": redis.url,
        "RISKLOOP_PARTITIONS": str(partitions),
        "RISKLOOP_RULES_DIR": str(rules_dir),
        "RISKLOOP_APP_ID": f"bench-riskloop-{uuid.uuid4().hex[:8]}",
        "RISKLOOP_WORKER_WEB_PORT": "{port}",
        "RISKLOOP_DATA_DIR": str(datadir),
        # the simulated city is dated March 2026: admissible whatever today's date is
        "RISKLOOP_STATE_RETENTION_DAYS": "36500",
    }
    env_tool = shutil.which("env") or "/usr/bin/env"
    return [
        env_tool,
        *(f"{k}={v}" for k, v in env.items()),
        sys.executable,
        "-m",
        "riskloop.cli",
        "worker",
    ]


# --- the table ----------------------------------------------------------------------------


def format_table(rows: list[Row]) -> str:
    """The figures, one row each, with the ratio to the first row (the baseline).

    >>> print(format_table([Row("baseline", 1000, 0.5), Row("faster", 3000, 0.5)]))
    what      events  seconds  events/s  x baseline
    baseline   1,000     0.50     2,000        1.00
    faster     3,000     0.50     6,000        3.00
    """
    base = rows[0].events_per_s
    width = max(len(r.name) for r in rows)
    head = f"{'what'.ljust(width)}  {'events':>6}  {'seconds':>7}  {'events/s':>8}  x baseline"
    lines = [head]
    for r in rows:
        ratio = r.events_per_s / base if base > 0 else 0.0
        lines.append(
            f"{r.name.ljust(width)}  {r.events:>6,}  {r.elapsed_s:>7.2f}  "
            f"{r.events_per_s:>8,.0f}  {ratio:>10.2f}"
        )
    return "\n".join(lines)
