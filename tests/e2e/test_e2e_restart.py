"""A worker killed mid-stream (SIGKILL, no goodbye) and replaced: no warning lost, no clue
duplicated. On Apache Kafka, where a consumer group hands a dead member's partitions over."""

from __future__ import annotations

import asyncio
import os
import signal

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
from envelope.topics import TOPIC_WARNINGS
from replay.publish import publish
from riskloop.services import ServiceGroup, start_worker

pytestmark = [pytest.mark.integration, pytest.mark.kafka, pytest.mark.slow]


def test_killed_worker_is_replaced_without_loss_or_duplicates(
    kafka, redis_url, services_dir, week, expected
):
    url = redis_db(redis_url, 4)
    r = redis.Redis.from_url(url, decode_responses=True)
    r.flushdb()
    env = stack_env(kafka, url, "riskloop-restart") | {
        "RISKLOOP_SESSION_TIMEOUT_S": "10",
        "RISKLOOP_CHECKPOINT_EVERY": "500",
    }
    report = asyncio.run(publish(week[0], kafka.bootstrap, max_speed=True, progress=False))
    assert report.sent == report.read

    with ServiceGroup(services_dir / "restart") as group:
        first = group.add(start_worker(group.workdir("first"), env))
        wait_for(lambda: processed(first.url) >= report.sent // 3, 240, "a third of the stream")
        os.killpg(first.pid, signal.SIGKILL)  # a crash: no commit, no checkpoint on the way out
        first.stop()
        second = group.add(start_worker(group.workdir("second"), env, ready_timeout_s=180))

        want = expected_clues(expected.warnings)
        wait_for(lambda: want.keys() <= set(r.zrange("rl:q:all", 0, -1)), 300, "every clue")
        assert second.running()
        # while the worker runs: the counts of the clues it has made may still be coming
        wait_clues(r, want, 120)

    live = [RiskWarning.from_json(v) for _, v in read_topic(kafka.bootstrap, TOPIC_WARNINGS)]
    assert_same_warnings(live, expected.warnings)
    print(f"\nwarnings on the topic: {len(live)} for {len(expected.warnings)} distinct ids")
