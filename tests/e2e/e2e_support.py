"""Helpers for the end-to-end tests: read metrics, wait for conditions, read topics."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from collections.abc import Callable
from typing import Any, TypeVar

from riskloop import metrics_text

T = TypeVar("T")

PARTITIONS = 4  # as the session brokers' topics (tests/conftest.py)
BAD_REGION = "339999"  # a district the simulator never uses: keys there are the tests' own


def metric_sum(url: str, name: str, **labels: str) -> float:
    """Sum of a metric's samples on a /metrics page whose labels include ``labels``."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    return metrics_text.metric_sum(text, name, **labels)


def metric_samples(url: str, name: str) -> dict[tuple[str, str], float]:
    """``{(topic, partition): value}`` of a per-partition metric on a /metrics page."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    return {
        (s.labels.get("topic", ""), s.labels.get("partition", "")): s.value
        for s in metrics_text.samples(text, name)
    }


def wait_for(check: Callable[[], T | None], timeout_s: float, what: str, every_s: float = 0.5) -> T:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` on timeout."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except Exception as exc:  # not there yet
            last = exc
        if last and not isinstance(last, Exception):
            return last
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what} (last: {last!r})")


def http_json(method: str, url: str, body: dict | None = None, token: str | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def send_raw(
    bootstrap: str,
    topic: str,
    values: list[bytes],
    key: bytes,
    partition: int | None = None,
    headers: list[tuple[str, bytes]] | None = None,
) -> None:
    """Publish raw values (valid or not) in order, each acknowledged by the broker; to
    ``partition`` (else by key) with ``headers`` if given."""
    from aiokafka import AIOKafkaProducer

    async def run() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            for value in values:
                await producer.send_and_wait(
                    topic, value, key=key, partition=partition, headers=headers
                )
        finally:
            await producer.stop()

    asyncio.run(run())


def read_topic(bootstrap: str, topic: str, idle_ms: int = 2000) -> list[tuple[bytes | None, bytes]]:
    """Every (key, value) on a topic, from the beginning, until it is quiet for ``idle_ms``."""
    from aiokafka import AIOKafkaConsumer

    async def run() -> list[tuple[bytes | None, bytes]]:
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        out: list[tuple[bytes | None, bytes]] = []
        try:
            while True:
                batch = await consumer.getmany(timeout_ms=idle_ms)
                if not batch:
                    return out
                for records in batch.values():
                    out.extend((r.key, r.value) for r in records)
        finally:
            await consumer.stop()

    return asyncio.run(run())


def processed(worker_url: str) -> float:
    """Events the worker has taken in: valid ones, dead letters and duplicates skipped."""
    return (
        metric_sum(worker_url, "riskloop_events_in_total")
        + metric_sum(worker_url, "riskloop_deadletters_total")
        + metric_sum(worker_url, "riskloop_duplicate_events_total")
    )


def event_clock(worker_url: str, key: str) -> tuple[int, int]:
    """``(watermark, newest event time)`` in epoch ms of the shard holding rule key ``key``,
    from the worker's gauges (set once a second)."""
    from rules.engine.keyspace import KeyPlan

    partition = str(KeyPlan.partition(key, PARTITIONS))
    wm_s = metric_sum(worker_url, "riskloop_watermark_seconds", partition=partition)
    lag_s = metric_sum(worker_url, "riskloop_watermark_lag_seconds", partition=partition)
    return round(wm_s * 1000), round((wm_s + lag_s) * 1000)


def on_time_ms(worker_url: str, key: str, span_ms: int = 0) -> int:
    """A time from which ``span_ms`` of events of rule key ``key`` are neither late nor move
    event time on: inside the lateness behind the newest event time of its shard (the week
    replayed, no idle time lets the watermark move on; see stack_env)."""
    watermark, newest = event_clock(worker_url, key)
    assert newest - watermark >= span_ms + 2000, (watermark, newest)
    return watermark + 1000


SIMULATED_DATA_RETENTION_DAYS = 36500


PSEUDONYM_KEY = "the end-to-end stacks' pseudonym key"


def stack_env(broker: Any, redis_url: str, app_id: str) -> dict[str, str]:
    """Settings of a worker/API pair on ``broker`` (a riskloop.services.Service)."""
    return {
        "RISKLOOP_BROKER": broker.url,
        "RISKLOOP_REDIS_URL": redis_url,
        "RISKLOOP_PARTITIONS": str(PARTITIONS),
        "RISKLOOP_APP_ID": app_id,
        "RISKLOOP_IDLE_AFTER_S": "86400",  # no idle advance, however slow the session: as backtest
        # the simulated weeks are dated March 2026: admissible whatever today's date is
        "RISKLOOP_STATE_RETENTION_DAYS": str(SIMULATED_DATA_RETENTION_DAYS),
        # one key for the worker and the API: the identity view opens what the worker sealed
        "RISKLOOP_PSEUDONYM_KEY": PSEUDONYM_KEY,
    }


def redis_db(url: str, db: int) -> str:
    """The same Redis server, another database number."""
    return url.rsplit("/", 1)[0] + f"/{db}"


def assert_same_warnings(live: list[Any], expected: list[Any]) -> None:
    """The warning ids on the topic are the backtest's; else each one lost or invented is
    named with its rule, stage, key and event time."""
    got, wanted = {w.id for w in live}, {w.id for w in expected}
    by_id = {w.id: w for w in live} | {w.id: w for w in expected}
    assert got == wanted, f"{len(got - wanted)} invented, {len(wanted - got)} lost: " + "; ".join(
        f"{'invented' if i in got else 'lost'} {by_id[i].rule_id} {by_id[i].stage} "
        f"key={by_id[i].key} ts={by_id[i].ts_ms} value={by_id[i].value}"
        for i in sorted(got ^ wanted, key=lambda i: by_id[i].ts_ms)
    )


def expected_clues(warnings: list[Any]) -> dict[str, set[str]]:
    """``{clue id: warning ids}`` the backtest's warnings make: one clue per fingerprint,
    none for an experimental rule's (shadow) warnings."""
    from clues.model import clue_id

    by_clue: dict[str, set[str]] = {}
    for w in warnings:
        if not w.details.get("shadow"):
            by_clue.setdefault(clue_id(w.fingerprint), set()).add(w.id)
    return by_clue


def clue_mismatch(r: Any, want: dict[str, set[str]], queue: str = "rl:q:all") -> list[str]:
    """What differs between the clues in Redis and ``want`` (:func:`expected_clues`): each
    clue missing, extra or counting other than its warnings, named."""
    have = set(r.zrange(queue, 0, -1))
    wrong = [f"missing {c}" for c in sorted(want.keys() - have)]
    wrong += [f"extra {c}" for c in sorted(have - want.keys())]
    for c in sorted(want.keys() & have):
        count = int(r.hget(f"rl:clue:{c}", "warning_count") or 0)
        if count != len(want[c]):
            fp = r.hget(f"rl:clue:{c}", "fingerprint")
            listed = r.lrange(f"rl:clue:{c}:warnings", 0, -1)
            seen = sorted(r.smembers(f"rl:fp:{fp}:seen"))
            steps = [f.get("action", "?") + ":" + f.get("reason", "")[:60]
                     for _, f in r.xrange(f"rl:clue:{c}:audit")]  # fmt: skip
            wrong.append(
                f"{c} counts {count} warnings, expected {len(want[c])} {sorted(want[c])}"
                f" (listed {listed}, seen {seen}, steps {steps})"
            )
    return wrong


def wait_clues(r: Any, want: dict[str, set[str]], timeout_s: float) -> None:
    """Wait until Redis holds exactly the clues ``want`` names, each counting its warnings.

    The clue sink is a consumer of ``risk.warnings`` of its own: a clue's later warnings
    can reach it after the clue itself, so the counts are awaited, not read once. A clue
    lost, invented or miscounted for good fails on the timeout, named."""
    wrong: list[str] = []

    def check() -> bool:
        wrong[:] = clue_mismatch(r, want)
        return not wrong

    try:
        wait_for(check, timeout_s, "the clues in Redis to be the backtest's", every_s=1.0)
    except AssertionError:
        raise AssertionError(
            f"{len(wrong)} clues differ from the backtest's: " + "; ".join(wrong[:20])
        ) from None
