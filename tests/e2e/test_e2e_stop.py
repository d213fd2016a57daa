"""A worker asked to stop (SIGTERM) mid-stream, as a rolling restart or a scale-down does:
it commits what it applied, hands its partitions back and exits within
``RISKLOOP_STOP_TIMEOUT_S``; the worker that takes over raises exactly what the backtest
does, nothing twice. On an Apache Kafka of the test's own (no other test's events on it).
Not on Tansu: its answer to ListOffsets (latest) is one past the *first* offset of a
partition's last batch, not one past its last record (a batch of 3 after a batch of 3:
end offset 4, where 6 records are there to fetch), so Faust's changelog recovery stops short
of the newest checkpoint's last records and a handover restores stale state."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import Callable

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
from riskloop.kafka_local import start_kafka
from riskloop.services import ServiceGroup, start_worker
from riskloop.topic_admin import create_topics, riskloop_topics

pytestmark = [pytest.mark.integration, pytest.mark.kafka, pytest.mark.slow]

STOP_TIMEOUT_S = 10
MARGIN_S = 15  # interpreter shutdown and the process group's reaping, on a busy machine


def test_a_stopped_worker_commits_hands_over_and_nothing_is_lost_or_doubled(
    redis_url, services_dir, week, expected
):
    url = redis_db(redis_url, 5)
    r = redis.Redis.from_url(url, decode_responses=True)
    r.flushdb()
    with ServiceGroup(services_dir / "stop") as group:
        broker = group.add(start_kafka(group.workdir("kafka")))
        asyncio.run(create_topics(broker.bootstrap, riskloop_topics(4)))
        env = stack_env(broker, url, "riskloop-stop") | {
            "RISKLOOP_STOP_TIMEOUT_S": str(STOP_TIMEOUT_S),
            "RISKLOOP_CHECKPOINT_EVERY": "500",
        }
        report = asyncio.run(publish(week[0], broker.bootstrap, max_speed=True, progress=False))
        assert report.sent == report.read

        first = group.add(start_worker(group.workdir("first"), env))
        third = report.sent // 3
        seen = wait_for(
            lambda: (n := processed(first.url)) >= third and n, 240, "a third of the stream"
        )
        assert seen < report.sent, "the worker must still be consuming when it is stopped"
        assert first.proc is not None
        os.killpg(first.pid, signal.SIGTERM)
        signalled = time.monotonic()
        try:
            code = first.proc.wait(timeout=STOP_TIMEOUT_S + MARGIN_S)
            stop_s = time.monotonic() - signalled
        except subprocess.TimeoutExpired:
            pytest.fail(
                f"SIGTERM: still running after {STOP_TIMEOUT_S + MARGIN_S}s:\n{first.log_tail(30)}"
            )
        first.stop()
        assert code == 0, f"not a clean stop (exit {code}):\n{first.log_tail(30)}"
        log = first.log_path.read_text(errors="replace")
        assert "stop: saved and acknowledged" in log, first.log_tail(30)

        second = group.add(start_worker(group.workdir("second"), env, ready_timeout_s=180))
        want = expected_clues(expected.warnings)
        wait_for(lambda: want.keys() <= set(r.zrange("rl:q:all", 0, -1)), 300, "every clue")
        taken_over = wait_for(settled(lambda: processed(second.url)), 120, "the rest drained", 3)
        assert second.running()
        live = [RiskWarning.from_json(v) for _, v in read_topic(broker.bootstrap, TOPIC_WARNINGS)]
        # while the worker runs: the counts of the clues it has made may still be coming
        wait_clues(r, want, 120)

    # What the first applied before its stop was committed: none of it is applied again.
    assert taken_over <= report.sent - seen, (taken_over, report.sent, seen)
    assert_same_warnings(live, expected.warnings)
    print(
        f"\nstopped after >= {seen:.0f} of {report.sent} events, exit in {stop_s:.1f} s; "
        f"the next worker applied {taken_over:.0f}"
    )


def settled(read: Callable[[], float]) -> Callable[[], float | None]:
    """A check that answers ``read()`` once two reads in a row agree (and it is not 0)."""
    last: list[float] = [-1.0]

    def check() -> float | None:
        now = read()
        same = now == last[0] and now > 0
        last[0] = now
        return now if same else None

    return check
