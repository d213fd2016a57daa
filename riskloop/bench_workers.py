"""The rows of ``riskloop bench`` beyond one worker on single-event messages, and the goals.

- batched: the riskloop worker on records that each carry up to ``batch`` events (a JSON
  array, as ``riskloop replay --batch`` publishes), on a second Tansu broker of its own, so
  its event topics (their names are fixed) hold that one copy of the file;
- Apache Kafka (opt-in, ``riskloop bench --kafka-workers``: it adds minutes): 1, 2 and 3
  workers in one consumer group, 12 partitions, single-event messages keyed by event id (an
  even spread over the partitions). Each count gets a fresh broker; its workers start
  together and settle into the group before the file is published, so none of them has
  a head start. The rate is that of the sum of their event counters, from the first sample
  that shows progress to the one that reaches the whole file.

The goals are printed beside the figures of the same run; nothing is asserted about time.
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from envelope.settings import DEFAULT_RULES_DIR
from riskloop.bench import (
    BASELINE,
    POLL_S,
    WORKER,
    Row,
    bench_publish,
    bench_worker,
    worker_argv,
    worker_count,
)
from riskloop.services import Service, ServiceError, ServiceGroup, start_redis, start_tansu
from riskloop.topic_admin import create_topics, riskloop_topics

KAFKA_PARTITIONS = 12
KAFKA_WORKERS = (1, 2, 3)
SETTLE_S = 5.0  # after the last worker is ready: the group's last rebalance settles
# Goals (issue "Benchmark"): printed beside the figures, never asserted.
GOAL_BATCHED_EV_S = 50_000
GOAL_SINGLE_X_BASELINE = 0.9
GOAL_TWO_X_ONE = 1.6


def batched_label(batch: int) -> str:
    return f"riskloop worker, batched messages (<= {batch:,} events a record)"


def kafka_label(workers: int) -> str:
    return f"{workers} worker{'s' if workers > 1 else ''} in one group (Apache Kafka, sum)"


def bench_batched(
    group: ServiceGroup, path: Path, expected: int, batch: int, partitions: int
) -> Row:
    """The worker on batched records of ``path``, on a broker and a Redis of its own."""
    broker = group.add(start_tansu(group.workdir("tansu-batched")))
    redis = group.add(start_redis(group.workdir("redis-batched"), appendonly=False))
    try:
        asyncio.run(create_topics(broker.bootstrap, riskloop_topics(partitions)))
        bench_publish(path, broker.bootstrap, expected, batch=batch)
        name = "riskloop-worker-batched"
        argv = worker_argv(group, name, broker, redis, partitions)
        return bench_worker(group, name, batched_label(batch), argv, expected, worker_count)
    finally:
        broker.stop()
        redis.stop()


def bench_kafka_workers(
    group: ServiceGroup, path: Path, expected: int, counts: tuple[int, ...] = KAFKA_WORKERS
) -> list[Row]:
    """One row per worker count, each on a fresh Apache Kafka with 12 partitions."""
    return [_kafka_row(group, path, expected, workers) for workers in counts]


def _kafka_row(group: ServiceGroup, path: Path, expected: int, workers: int) -> Row:
    from riskloop.kafka_local import start_kafka

    name = f"kafka-{workers}"
    app_id = f"bench-group-{uuid.uuid4().hex[:8]}"
    print(f"... {workers} worker(s) on Apache Kafka: starting", file=sys.stderr, flush=True)
    broker = group.add(start_kafka(group.workdir(f"{name}-broker")))
    redis = group.add(start_redis(group.workdir(f"{name}-redis"), appendonly=False))
    running: list[Service] = []
    try:
        asyncio.run(create_topics(broker.bootstrap, riskloop_topics(KAFKA_PARTITIONS, app_id)))
        env = _kafka_env(broker, redis, app_id)
        running = _start_workers(group, name, env, workers)
        time.sleep(SETTLE_S)
        with ThreadPoolExecutor(1) as pool:
            sent = pool.submit(_publish_by_id, path, broker.bootstrap)
            events, elapsed = _watch_sum(running, expected)
            sent.result()
        return Row(kafka_label(workers), events, elapsed)
    finally:
        for service in running:
            service.stop()
        broker.stop()
        redis.stop()


def _kafka_env(broker: Service, redis: Service, app_id: str) -> dict[str, str]:
    return {
        "RISKLOOP_BROKER": broker.url,
        "RISKLOOP_REDIS_URL": redis.url,
        "RISKLOOP_PARTITIONS": str(KAFKA_PARTITIONS),
        "RISKLOOP_RULES_DIR": str(DEFAULT_RULES_DIR),
        "RISKLOOP_APP_ID": app_id,
        # the simulated city is dated March 2026: admissible whatever today's date is
        "RISKLOOP_STATE_RETENTION_DAYS": "36500",
    }


def _start_workers(
    group: ServiceGroup, name: str, env: dict[str, str], workers: int
) -> list[Service]:
    """Start ``workers`` workers at once; return when every one is ready (in the group)."""
    from riskloop.services import start_worker

    def start(i: int) -> Service:
        workdir = group.workdir(f"{name}-worker-{i}")
        (workdir / "data").mkdir(parents=True, exist_ok=True)
        return group.add(start_worker(workdir, env, ready_timeout_s=240.0))

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(start, range(workers)))


def _publish_by_id(path: Path, bootstrap: str) -> None:
    from replay.publish import publish

    report = asyncio.run(
        publish(path, bootstrap, max_speed=True, progress=False, partition_field="id")
    )
    if report.interrupted:
        raise KeyboardInterrupt


def _watch_sum(services: list[Service], expected: int) -> tuple[int, float]:
    """Poll every worker's counter until their sum reaches ``expected``; the summed rate."""
    deadline = time.monotonic() + 120.0 + expected / 200
    samples: list[tuple[float, int]] = []
    while not samples or samples[-1][1] < expected:
        before = time.monotonic()
        seen = sum(worker_count(s.port) or 0 for s in services)
        now = (before + time.monotonic()) / 2
        if seen and (not samples or seen > samples[-1][1]):
            samples.append((now, seen))
        if stopped := [s for s in services if not s.running()]:
            raise ServiceError(f"a worker exited:\n{stopped[0].log_tail()}")
        if now > deadline:
            raise ServiceError(f"the workers handled only {seen} of {expected} events in time")
        time.sleep(POLL_S)
    (t0, c0), (t1, c1) = samples[0], samples[-1]
    if c1 == c0:
        raise ServiceError("the workers took the whole file within one poll: use more events")
    return c1 - c0, t1 - t0


# --- the goals ----------------------------------------------------------------------------


def format_goals(rows: list[Row]) -> str:
    """Each goal beside its figure from ``rows`` (goals whose rows were not run are left out).

    >>> rows = [Row(BASELINE, 4000, 1.0), Row(WORKER, 3000, 1.0), Row(batched_label(9), 60000, 1.0)]
    >>> print(format_goals(rows + [Row(kafka_label(1), 2000, 1.0), Row(kafka_label(2), 3000, 1.0)]))
    goals (this run; figures on a shared machine are noisy):
      single-event worker vs bare agent: 0.75x (goal >= 0.9x): not met
      batched messages, one worker: 60,000 ev/s (goal >= 50,000 ev/s): met
      2 workers vs 1 on Apache Kafka: 1.50x (goal >= 1.6x): not met
    """
    rate = {r.name: r.events_per_s for r in rows}
    lines = ["goals (this run; figures on a shared machine are noisy):"]

    def goal(what: str, figure: float, shown: str, target: float, target_shown: str) -> None:
        verdict = "met" if figure >= target else "not met"
        lines.append(f"  {what}: {shown} (goal >= {target_shown}): {verdict}")

    if rate.get(BASELINE) and WORKER in rate:
        x = rate[WORKER] / rate[BASELINE]
        goal("single-event worker vs bare agent", x, f"{x:.2f}x", GOAL_SINGLE_X_BASELINE, "0.9x")
    for name, ev_s in rate.items():
        if name.startswith("riskloop worker, batched"):
            shown, target = f"{ev_s:,.0f} ev/s", f"{GOAL_BATCHED_EV_S:,} ev/s"
            goal("batched messages, one worker", ev_s, shown, GOAL_BATCHED_EV_S, target)
    one, two = rate.get(kafka_label(1)), rate.get(kafka_label(2))
    if one and two:
        x = two / one
        goal("2 workers vs 1 on Apache Kafka", x, f"{x:.2f}x", GOAL_TWO_X_ONE, "1.6x")
    return "\n".join(lines)
