"""Three workers in one group on Apache Kafka, 12 partitions, while the membership changes
under them: two start, a third joins mid-stream, one is asked to stop (SIGTERM), one is
killed (SIGKILL), the broker is restarted once, a fourth joins. Afterwards the warning ids
on ``risk.warnings`` are exactly the backtest's for the same file and every clue counts
exactly its warnings: the answers do not depend on which worker held which partition when.
The producer keys each event by its own ``id`` (one key's events scattered over every
partition, as a producer keying by record id does), where the other live tests key by region.

On an Apache Kafka of this module's own (KRaft, from the Maven jars), so its event topics
hold this test's week and nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis
from e2e_support import (
    assert_same_warnings,
    expected_clues,
    processed,
    read_topic,
    redis_db,
    stack_env,
    wait_clues,
    wait_for,
)

from envelope.events import RiskWarning
from envelope.settings import DEFAULT_RULES_DIR
from envelope.topics import TOPIC_WARNINGS
from replay.backtest import backtest
from replay.publish import publish
from riskloop.kafka_local import start_kafka
from riskloop.services import Service, ServiceGroup, start_worker
from riskloop.topic_admin import create_topics, riskloop_topics

pytestmark = [pytest.mark.integration, pytest.mark.kafka, pytest.mark.slow]

PARTITIONS = 12
APP_ID = "riskloop-workers"
STOP_TIMEOUT_S = 10
MARGIN_S = 15  # interpreter shutdown on a busy machine
KEY = "id"  # the producer's key: every event its own
RATE = 350  # events a second the producer sends: the week takes ~3 minutes


@pytest.fixture(scope="module")
def cluster(services_dir: Path) -> Iterator[tuple[ServiceGroup, Service]]:
    with ServiceGroup(services_dir / "kafka-workers") as group:
        broker = group.add(start_kafka(group.workdir("kafka")))
        asyncio.run(create_topics(broker.bootstrap, riskloop_topics(PARTITIONS, APP_ID)))
        yield group, broker


class Membership:
    """The workers started so far and the events each had taken in when it left."""

    def __init__(self, group: ServiceGroup, env: dict[str, str]) -> None:
        self.group, self.env = group, env
        self.live: dict[str, Service] = {}
        self.gone = 0.0

    def start(self, *names: str) -> None:
        """Start workers side by side (each takes ~30 s to be ready)."""

        def one(name: str) -> Service:
            return start_worker(self.group.workdir(name), self.env, ready_timeout_s=240)

        with ThreadPoolExecutor(len(names)) as pool:
            for name, worker in zip(names, pool.map(one, names), strict=True):
                self.live[name] = self.group.add(worker)

    def taken_in(self) -> float:
        total = self.gone
        for worker in self.live.values():
            with contextlib.suppress(OSError):  # between a kill and its removal
                total += processed(worker.url)
        return total

    def leave(self, name: str, sig: signal.Signals) -> int:
        """Signal a worker's process group; return its exit code."""
        worker = self.live.pop(name)
        self.gone += processed(worker.url)
        assert worker.proc is not None and worker.pid is not None
        os.killpg(worker.pid, sig)
        try:
            code = worker.proc.wait(timeout=STOP_TIMEOUT_S + MARGIN_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{name}: still running after {sig.name}:\n{worker.log_tail(30)}")
        worker.stop()
        return code


def test_workers_joining_leaving_crashing_and_a_broker_restart_change_no_answer(
    cluster, redis_url, week
):
    group, broker = cluster
    url = redis_db(redis_url, 6)
    r = redis.Redis.from_url(url, decode_responses=True)
    r.flushdb()
    expected = backtest(
        week[0], DEFAULT_RULES_DIR, partitions=PARTITIONS, partition_field=KEY, open_end=True
    )
    want = expected_clues(expected.warnings)
    env = stack_env(broker, url, APP_ID) | {
        "RISKLOOP_PARTITIONS": str(PARTITIONS),
        "RISKLOOP_SESSION_TIMEOUT_S": "10",
        "RISKLOOP_STOP_TIMEOUT_S": str(STOP_TIMEOUT_S),
        "RISKLOOP_CHECKPOINT_EVERY": "500",
    }
    n = week[0].read_text(encoding="utf-8").count("\n")  # one event a line
    workers = Membership(group, env)

    # A live stream: the producer sends at RATE while the membership changes, so the group
    # rebalances under busy workers (sent all at once, two workers read it to its end in the
    # time a third takes to start).
    with ThreadPoolExecutor(1) as producer:
        sending = producer.submit(
            lambda: asyncio.run(
                publish(week[0], broker.bootstrap, progress=False, partition_field=KEY, rate=RATE)
            )
        )
        workers.start("a", "b")
        wait_for(lambda: workers.taken_in() >= n / 4 or None, 300, "a quarter of the stream")
        workers.start("c")  # joins mid-stream: the group rebalances under two busy workers
        wait_for(lambda: workers.taken_in() >= n / 2 or None, 300, "half of the stream")
        mid_stream = not sending.done()
        signalled = time.monotonic()
        assert workers.leave("a", signal.SIGTERM) == 0, "a clean stop exits 0"
        stop_s = time.monotonic() - signalled
        wait_for(lambda: workers.taken_in() >= 2 * n / 3 or None, 300, "two thirds of the stream")
        workers.leave("b", signal.SIGKILL)  # a crash: no commit, no checkpoint on the way out
        report = sending.result(timeout=600)
    assert report.sent == report.read == n
    assert mid_stream, f"the producer had sent everything before a worker left (rate {RATE}/s)"
    broker.stop()  # the broker goes down and comes back on the same data and port
    broker.launch()
    workers.start("d")

    wait_for(lambda: want.keys() <= set(r.zrange("rl:q:all", 0, -1)), 600, "every clue")
    assert all(w.running() for w in workers.live.values()), "a worker died"
    live = [RiskWarning.from_json(v) for _, v in read_topic(broker.bootstrap, TOPIC_WARNINGS)]

    assert_same_warnings(live, expected.warnings)
    wait_clues(r, want, 120)
    print(
        f"\n{n} events, {len(expected.warnings)} warnings, {len(want)} clues, "
        f"{PARTITIONS} partitions; "
        f"SIGTERM exit in {stop_s:.1f} s; {len(live)} warning records"
    )
