"""End-to-end fixtures: one worker and one API on the session's Tansu broker and Redis,
started once per session (a Faust worker takes ~30 s to start), fed one simulated week."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from e2e_support import PARTITIONS, processed, redis_db, stack_env, wait_for

from envelope.settings import DEFAULT_RULES_DIR
from replay.backtest import BacktestReport, backtest
from replay.publish import PublishReport, publish
from replay.simulator import simulate_to_file
from riskloop.services import Service, ServiceGroup, start_api, start_tansu, start_worker
from riskloop.topic_admin import create_topics, riskloop_topics

WEEK_SEED = 11
# API tokens the stack's API stores at start-up (RISKLOOP_API_BOOTSTRAP_TOKENS), by role.
TOKENS = {
    "dispatcher": "e2e-dispatcher-token",
    "inspector-7": "e2e-inspector-7-token",
    "inspector-9": "e2e-inspector-9-token",
}


@dataclass
class Stack:
    broker: Service
    worker: Service
    api: Service
    redis_url: str
    env: dict[str, str]
    tokens: dict[str, str]

    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis_url, decode_responses=True)


@pytest.fixture(scope="session")
def week(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A simulated week (seed 11) and its labels."""
    out = tmp_path_factory.mktemp("week") / "week.jsonl"
    # Without the cross-district scenarios: a shard applies a key's events in the order its
    # sources deliver them, not in event time, so a key fed by several districts' partitions
    # can fire at another event live than in the backtest (see the expected failures in
    # tests/replay/test_backtest.py and test_e2e_kafka_workers.py).
    simulate_to_file(out, WEEK_SEED, days=7, cross_district=False)
    return out, out.with_name("week.labels.jsonl")


@pytest.fixture(scope="session")
def expected(week: tuple[Path, Path]) -> BacktestReport:
    """What the pure core says the week must raise, sharded like the live topics, with each
    partition's watermark held to what both its topics reached, as the live worker does;
    the stack's worker lets no idle time move a watermark further (stack_env)."""
    return backtest(week[0], DEFAULT_RULES_DIR, partitions=PARTITIONS, open_end=True)


@pytest.fixture(scope="session")
def e2e_broker(services_dir: Path) -> Iterator[Service]:
    """A Tansu broker of the end-to-end suite's own: what it publishes (malformed events
    included) never reaches the other suites' topics."""
    with ServiceGroup(services_dir / "e2e-broker") as group:
        broker = group.add(start_tansu(group.workdir("tansu")))
        asyncio.run(create_topics(broker.bootstrap, riskloop_topics(PARTITIONS)))
        yield broker


@pytest.fixture(scope="session")
def stack(e2e_broker: Service, redis_url: str, services_dir: Path) -> Iterator[Stack]:
    url = redis_db(redis_url, 3)
    redis.Redis.from_url(url).flushdb()
    rules_dir = services_dir / "e2e-rules"  # a copy the hot-reload test may edit
    shutil.copytree(DEFAULT_RULES_DIR, rules_dir)
    env = stack_env(e2e_broker, url, "riskloop-e2e") | {
        "RISKLOOP_RULES_DIR": str(rules_dir),
        "RISKLOOP_RELOAD_INTERVAL_S": "1",
        "RISKLOOP_API_BOOTSTRAP_TOKENS": " ".join(
            f"{TOKENS[who]}={who}:{'supervisor' if who == 'dispatcher' else 'inspector'}:*:*"
            for who in TOKENS
        ),
    }
    with ServiceGroup(services_dir / "e2e") as group:
        worker = group.add(start_worker(group.workdir("worker"), env))
        api = group.add(start_api(group.workdir("api"), env))
        yield Stack(e2e_broker, worker, api, url, env, TOKENS)


@pytest.fixture(scope="session")
def replayed(stack: Stack, week: tuple[Path, Path]) -> PublishReport:
    """The week published at full speed, and the worker and clue sink caught up."""
    report = asyncio.run(publish(week[0], stack.broker.bootstrap, max_speed=True, progress=False))
    assert report.sent == report.read and report.rejected == 0
    wait_for(
        lambda: processed(stack.worker.url) >= report.sent,
        240,
        f"the worker to process {report.sent} events",
    )
    r = stack.redis()
    last = {"n": -1}

    def settled() -> bool:
        n = r.zcard("rl:q:all")
        same = n == last["n"] and n > 0
        last["n"] = n
        return same

    wait_for(settled, 60, "the clue sink to settle", every_s=2.0)
    return report
