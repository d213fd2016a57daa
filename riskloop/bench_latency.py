"""The latency row of ``riskloop bench``: event -> clue in Redis, at half the measured capacity.

A real ``riskloop worker`` (its clue sink included) on an embedded Tansu broker and a private
Redis (append-only file, fsync on every write, as deployed), with one rule that raises a
warning on every event (a ``match`` rule per account; every event has an account of its
own, so every warning opens a clue of its own). Events are stamped with the wall clock and
sent round-robin over the partitions of both event topics from this process.

1. warm-up: a trickle of events until their clues show up (Faust's start-up, and the other
   topic's sources going idle, are left out);
2. capacity: a burst of ``burst`` events as fast as the producer sends them; the rate at
   which their clues appear in Redis;
3. latency: events at half that rate for ``seconds``; each one's time from being handed to
   the producer to its clue's first write in Redis (a keyspace notification, timed in this
   process by the same clock), p50 and p99 printed.

Figures are printed, nothing is asserted about time.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field

import redis
from aiokafka import TopicPartition

from clues.model import clue_id
from envelope.events import RiskWarning, stable_id
from envelope.topics import EVENT_TOPICS, TOPIC_WARNINGS
from riskloop.bench import launch_worker, worker_argv, worker_count
from riskloop.services import Service, ServiceError, ServiceGroup, start_redis, start_tansu
from riskloop.topic_admin import create_topics, riskloop_topics

RULE_ID = "bench-every-event"
RULE = f"""id: {RULE_ID}
title: every event raises a warning (latency bench)
type: match
match: {{type: bench.ping}}
group_by: [attrs.account]
"""
WARMUP_S = 90.0  # at most, for the worker to start and the first clue to appear
LABEL = "event -> clue latency, half capacity"
GOAL_P99_MS = 250.0
TRAIL_EV_S = 100.0  # events a second after a burst, until its last clue is in
STREAMS = ("service", "regulatory")  # every partition of both event topics gets events


@dataclass(frozen=True)
class Latency:
    """The measured capacity, the rate sent at, and the latencies (ms) of the events sent."""

    capacity_ev_s: float
    rate_ev_s: float
    sent: int
    latencies_ms: list[float]
    to_warning_ms: list[float] = field(default_factory=list)  # event -> on risk.warnings

    def percentile(self, q: int, of: list[float] | None = None) -> float:
        values = self.latencies_ms if of is None else of
        if len(values) < 2:
            return values[0] if values else float("nan")
        return statistics.quantiles(values, n=100, method="inclusive")[q - 1]

    def line(self) -> str:
        got, stage = len(self.latencies_ms), self.to_warning_ms
        return (
            f"{LABEL}: capacity {self.capacity_ev_s:,.0f} ev/s (every event a clue), sent "
            f"{self.sent:,} at {self.rate_ev_s:,.0f} ev/s, {got:,} clues: p50 "
            f"{self.percentile(50):,.0f} ms, p99 {self.percentile(99):,.0f} ms "
            f"(event -> warning on its topic: p50 {self.percentile(50, stage):,.0f} ms, "
            f"p99 {self.percentile(99, stage):,.0f} ms)"
        )


class Arrivals:
    """First write time of each clue key, from Redis keyspace notifications (a thread)."""

    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url)
        self.client.config_set("notify-keyspace-events", "Kh")
        self.first: dict[str, float] = {}
        self.pubsub = self.client.pubsub(ignore_subscribe_messages=True)
        self.pubsub.psubscribe("__keyspace@0__:rl:clue:*")
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._listen, daemon=True)
        self.thread.start()

    def _listen(self) -> None:
        prefix = len("__keyspace@0__:rl:clue:")
        while not self.stopping.is_set():
            try:
                msg = self.pubsub.get_message(timeout=0.2)
            except (redis.RedisError, ValueError):
                return
            if msg is None:
                continue
            now = time.time()
            cid = msg["channel"][prefix:].decode()
            self.first.setdefault(cid, now)

    def close(self) -> None:
        """Stop the listener, then close its connection (while Redis still runs: a thread
        reading from a connection closed under it, or from a stopped server, fails)."""
        self.stopping.set()
        self.thread.join(timeout=5.0)
        self.pubsub.close()
        self.client.close()


def _clue_of(account: str) -> str:
    return clue_id(stable_id(RULE_ID, account, prefix="f-"))


def _event(i: int, run: str, now_ms: int, stream: str) -> bytes:
    import orjson

    from envelope.time import iso

    doc = {
        "id": f"lat-{run}-{i}",
        "type": "bench.ping",
        "stream": stream,
        "ts": iso(now_ms),
        "source": "bench",
        "region": "330106",
        "department": "market-supervision",
        "entity": {"kind": "citizen", "id": f"cit-{i}"},
        "attrs": {"account": f"acct-{run}-{i}"},
    }
    return orjson.dumps(doc)


class Sender:
    """Events of one run, round-robin over every partition of both event topics (a source
    that never delivers would hold the shards' event time back until it is found quiet);
    the wall time each was handed to the producer, by its clue id."""

    def __init__(self, bootstrap: str, partitions: int, run: str) -> None:
        self.bootstrap, self.partitions, self.run = bootstrap, partitions, run
        self.sent_at: dict[str, float] = {}
        self.n = 0

    async def send(self, count: int, rate: float | None) -> None:
        """``count`` events, at ``rate`` a second (None: as fast as the producer takes them)."""
        from aiokafka import AIOKafkaProducer

        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, linger_ms=1)
        await producer.start()
        try:
            start = time.monotonic()
            for k in range(count):
                if rate:
                    ahead = start + k / rate - time.monotonic()
                    if ahead > 0:
                        await asyncio.sleep(ahead)
                i, self.n = self.n, self.n + 1
                now = time.time()
                self.sent_at[_clue_of(f"acct-{self.run}-{i}")] = now
                stream = STREAMS[(i // self.partitions) % len(STREAMS)]
                value = _event(i, self.run, int(now * 1000), stream)
                await producer.send(
                    EVENT_TOPICS[stream], value=value, partition=i % self.partitions
                )
            await producer.flush()
        finally:
            await producer.stop()


def bench_latency(group: ServiceGroup, partitions: int, burst: int, seconds: float) -> Latency:
    """Warm-up, capacity and latency phases on a broker, a Redis and a worker of their own."""
    rules = group.workdir("latency-rules")
    (rules / f"{RULE_ID}.yaml").write_text(RULE)
    broker = group.add(start_tansu(group.workdir("tansu-latency")))
    store = group.add(start_redis(group.workdir("redis-latency")))
    asyncio.run(create_topics(broker.bootstrap, riskloop_topics(partitions)))
    sender = Sender(broker.bootstrap, partitions, run=str(int(time.time())))
    name = "riskloop-worker-latency"
    argv = worker_argv(group, name, broker, store, partitions, rules_dir=rules)
    arrivals = Arrivals(store.url)
    worker: Service | None = None
    try:
        worker = launch_worker(group, name, argv, lambda port: worker_count(port) is not None)
        _warm_up(worker, sender, arrivals)
        capacity = _capacity(worker, sender, arrivals, burst)
        rate = capacity / 2
        first = sender.n
        asyncio.run(sender.send(int(rate * seconds), rate))
        wanted = _clues(sender, first)
        _trail(worker, sender, arrivals, wanted, 30.0, rate)
        got = [arrivals.first[c] - sender.sent_at[c] for c in wanted if c in arrivals.first]
        warned = asyncio.run(_warned_at(broker.bootstrap, partitions))
        staged = [warned[c] - sender.sent_at[c] for c in wanted if c in warned]
        return Latency(capacity, rate, len(wanted), _ms(got), _ms(staged))
    finally:
        arrivals.close()  # before Redis stops: its listener thread ends first
        if worker is not None:
            worker.stop()
        broker.stop()
        store.stop()


def _ms(seconds: list[float]) -> list[float]:
    return [s * 1000 for s in seconds]


async def _warned_at(bootstrap: str, partitions: int) -> dict[str, float]:
    """When each clue's first warning was written to ``risk.warnings`` (the worker's record
    timestamp), by clue id: the worker's share of the latency, the clue sink's is the rest."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(TOPIC_WARNINGS, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        out: dict[str, float] = {}
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for r in records:
                    cid = clue_id(RiskWarning.from_json(r.value).fingerprint)
                    out.setdefault(cid, r.timestamp / 1000)
        return out
    finally:
        await consumer.stop()


def _warm_up(worker: Service, sender: Sender, arrivals: Arrivals) -> None:
    deadline = time.monotonic() + WARMUP_S
    while not arrivals.first:
        if not worker.running():
            raise ServiceError(f"{worker.name} exited:\n{worker.log_tail()}")
        if time.monotonic() > deadline:
            raise ServiceError(f"no clue in Redis within {WARMUP_S:.0f} s:\n{worker.log_tail()}")
        asyncio.run(sender.send(2 * sender.partitions, 20.0))
    asyncio.run(sender.send(100, 50.0))  # the first clue's batch settles


def _capacity(worker: Service, sender: Sender, arrivals: Arrivals, burst: int) -> float:
    """The rate at which the clues of ``burst`` events sent at once appear in Redis."""
    first = sender.n
    asyncio.run(sender.send(burst, None))
    wanted = _clues(sender, first)
    _trail(worker, sender, arrivals, wanted, 60.0 + burst / 50, TRAIL_EV_S)
    start = min(sender.sent_at[c] for c in wanted)
    return len(wanted) / max(max(arrivals.first[c] for c in wanted) - start, 1e-3)


def _clues(sender: Sender, first: int) -> list[str]:
    return [_clue_of(f"acct-{sender.run}-{i}") for i in range(first, sender.n)]


def _trail(
    worker: Service,
    sender: Sender,
    arrivals: Arrivals,
    wanted: list[str],
    timeout_s: float,
    rate: float,
) -> None:
    """Keep events coming at ``rate`` (not measured) until every clue of ``wanted`` is in
    Redis: the last events sent wait for every source to pass their time, as in a steady
    stream, not for the sources to be found quiet."""
    deadline = time.monotonic() + timeout_s
    while any(c not in arrivals.first for c in wanted):
        if not worker.running():
            raise ServiceError(f"{worker.name} exited:\n{worker.log_tail()}")
        if time.monotonic() > deadline:
            missing = sum(c not in arrivals.first for c in wanted)
            print(f"... latency: {missing} of {len(wanted)} clues never came", file=sys.stderr)
            return
        asyncio.run(sender.send(max(1, int(rate / 10)), rate))


def format_goal(lat: Latency) -> str:
    """The goal beside the figure of this run (printed, never asserted).

    >>> print(format_goal(Latency(400.0, 200.0, 3, [10.0, 20.0, 300.0])))
      event -> clue p99 at half capacity: 294 ms (goal <= 250 ms): not met
    """
    p99 = lat.percentile(99)
    verdict = "met" if p99 <= GOAL_P99_MS and len(lat.latencies_ms) == lat.sent else "not met"
    goal = f"goal <= {GOAL_P99_MS:.0f} ms"
    return f"  event -> clue p99 at half capacity: {p99:,.0f} ms ({goal}): {verdict}"


def main(argv: list[str] | None = None) -> int:
    """``python -m riskloop.bench_latency``: the latency row alone, on services of its own."""
    import argparse

    from riskloop.bench import LATENCY_BURST, PARTITIONS, machine_facts

    parser = argparse.ArgumentParser(prog="python -m riskloop.bench_latency", description=LABEL)
    parser.add_argument("--seconds", type=float, default=20.0, help="of the latency phase")
    parser.add_argument("--burst", type=int, default=LATENCY_BURST, help="events of the burst")
    parser.add_argument("--partitions", type=int, default=PARTITIONS)
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.burst < 1 or args.partitions < 1:
        parser.error("--seconds must be > 0, --burst and --partitions >= 1")
    print(machine_facts(), flush=True)
    with ServiceGroup() as group:
        lat = bench_latency(group, args.partitions, args.burst, args.seconds)
    print(lat.line())
    print(format_goal(lat))
    return 0


if __name__ == "__main__":
    sys.exit(main())
