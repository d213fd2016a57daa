"""Benchmark of the clue store against a real Redis: ``python -m riskloop.bench_clues``.

Prints figures, asserts nothing. It starts a private ``redis-server`` (append-only file on and
synced on every write, as in production; ``--appendfsync`` to compare) in a temporary folder
unless ``--redis-url`` names one, then measures:

1. ingest: warnings/s of ``upsert_warnings`` building the queue (``--clues`` clues), then
   ``--preload`` clues more (1M: ``--preload 1000000``) and the Redis memory they take;
2. transitions/s, unpaced, with ``--concurrency`` callers (dispatching part of the queue);
3. transition latency at a steady ``--rate`` ops/s (claim, comment, release), p50/p99/max,
   with the client's and Redis's CPU µs and the round trips per transition; the same steps
   at ``--compare-rates`` one script call a round trip (the old path) against concurrent
   calls in one pipeline (``clues.batch``, the store's way), with the ratios; then a sweep
   of rising rates that prints the highest one whose p99 stays within ``--bound-ms`` (goal:
   >= 2,000 transitions/s at p99 <= 5 ms with fsync on every write and 1M clues). Before
   them, at ``--path-rates``, EVALSHA of the plain script against FCALL of the library,
   with Redis µs per call (INFO commandstats). On a busy machine p99 follows the CPU the
   processes get; the CPU per transition is the steadier figure;
4. list latency over the whole queue for typical pages (goal: p99 <= 50 ms at 100k clues);
5. the clue sink's path (``riskloop.bench_clue_sink``, ``--sink-seconds 0``: none):
   warnings/s of ``upsert_warnings`` for batches of 500 and of 1, one script call a warning
   against the store's way, with the Redis CPU per warning (goal: >= 5,000 warnings/s).

Before the paced run Redis rewrites its append-only file (BGREWRITEAOF) and the benchmark
waits for it: a rewrite forks Redis, and on a 2-core machine that fork is what a p99 would
otherwise measure. Production sizes ``auto-aof-rewrite-min-size`` for this.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError

from clues.access import Principal
from clues.admission import bounded_redis
from clues.listing import ListQuery
from clues.model import ClueError, clue_id
from clues.store import ClueStore
from envelope.settings import Settings
from riskloop.bench_clue_sink import (
    RULES,
    call_stats,
    interleaved,
    preload,
    redis_cpu_s,
    sink,
    us_per_call,
    warning,
)

CENTRE = Principal("bench-centre", "supervisor")
INSPECTOR = Principal("bench-inspector", "inspector", ("market-supervision",), None)
SWEEP_RATES = (500, 1000, 1500, 2000, 3000, 4000, 6000, 8000)
SWEEP_GOAL = 2_000


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def ms_line(name: str, seconds: list[float]) -> str:
    ms = [s * 1000 for s in seconds]
    return (
        f"  {name:<44} p50 {statistics.median(ms):6.2f} ms   p99 {pct(ms, 99):6.2f} ms"
        f"   max {max(ms):6.2f} ms   (n={len(ms)})"
    )


async def ingest(store: ClueStore, n: int) -> None:
    start = time.perf_counter()
    for lo in range(0, n, 5000):
        await store.upsert_warnings([warning(i) for i in range(lo, min(n, lo + 5000))])
    took = time.perf_counter() - start
    print(f"ingest: {n:,} clues in {took:.1f} s ({n / took:,.0f} warnings/s)")


async def unpaced(store: ClueStore, ids: list[str], concurrency: int) -> None:
    queue = list(ids)
    now = int(time.time() * 1000)

    async def worker() -> None:
        while queue:
            await store.transition(queue.pop(), "dispatch", CENTRE, now)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    took = time.perf_counter() - start
    print(
        f"transitions, unpaced ({concurrency} callers): {len(ids):,} dispatches in"
        f" {took:.1f} s = {len(ids) / took:,.0f} transitions/s"
    )


@dataclasses.dataclass
class Paced:
    achieved: float  # ops/s
    p99_ms: float
    refused: int
    client_us: float  # CPU of this process per step served (the pacing loop's included)
    redis_us: float  # CPU of Redis's main thread per step served (its fsyncs included)
    trips: float  # round trips to Redis per transition (script calls)
    latency_line: str  # p50, p99 and max
    p50_ms: float = 0.0
    call_us: float = 0.0  # Redis µs per script call (INFO commandstats: EVALSHA or FCALL)


async def costs(store: ClueStore) -> tuple[float, float, int, int]:
    """This process's CPU s, Redis's CPU s, transition script calls and round trips so far."""
    calls = store.transition_calls
    return time.process_time(), await redis_cpu_s(store.redis), calls.calls, calls.sends


def per_step(
    before: tuple[float, float, int, int],
    after: tuple[float, float, int, int],
    n: int,
    batched: bool,
) -> tuple[float, float, float]:
    """Client CPU µs, Redis CPU µs and round trips per step of ``n`` steps (one a call when
    not batched)."""
    trips = (after[3] - before[3]) / max(1, after[2] - before[2]) if batched else 1.0
    return (after[0] - before[0]) / n * 1e6, (after[1] - before[1]) / n * 1e6, trips


async def paced(
    store: ClueStore,
    pool: list[str],
    rate: float,
    seconds: float,
    done: dict[str, int] | None = None,
) -> Paced:
    """Open loop: op i starts at i/rate whatever the latency; each clue of ``pool`` in turn
    takes its next step of claim, comment, release (``done``: steps each clue took so far,
    kept across runs), so two steps of one clue are ``len(pool) / rate`` seconds apart."""
    n = int(rate * seconds)
    steps = ("claim", "comment", "release")
    args = {"comment": {"text": "bench"}}
    latencies: list[float] = []
    failures = unserved = 0
    done = {} if done is None else done

    async def op(i: int) -> None:
        nonlocal failures, unserved
        cid = pool[i % len(pool)]
        action = steps[done.get(cid, 0) % 3]
        done[cid] = done.get(cid, 0) + 1
        t = time.perf_counter()
        try:
            await store.transition(
                cid, action, INSPECTOR, int(time.time() * 1000), args.get(action)
            )
        except ClueError:  # refused by the script: the API's 4xx
            failures += 1
        except RedisConnectionError:  # no connection free in time: the API's 503
            failures, unserved = failures + 1, unserved + 1
            done[cid] -= 1  # the step did not happen: the clue takes it next time
        latencies.append(time.perf_counter() - t)

    tasks = []
    before, stats = await costs(store), await call_stats(store.redis)
    start = time.perf_counter()
    for i in range(n):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(op(i)))
    await asyncio.gather(*tasks)
    took = time.perf_counter() - start
    served = max(1, n - unserved)  # the steps that reached Redis
    client_us, redis_us, trips = per_step(
        before, await costs(store), served, store.batch_transitions
    )
    line = ms_line("claim / comment / release latency", latencies)
    ms = [x * 1000 for x in latencies]
    call_us = us_per_call(stats, await call_stats(store.redis))
    return Paced(n / took, pct(ms, 99), failures, client_us, redis_us, trips, line,
                 statistics.median(ms), call_us)  # fmt: skip


async def compare(store: ClueStore, pool: list[str], rates: list[float], seconds: float,
                  done: dict[str, int]) -> None:  # fmt: skip
    """The same paced steps one script call a round trip (the old path) and with concurrent
    calls in one pipeline (the store's way), one rate after the other; CPU per transition is
    the steadier figure on a busy machine."""
    print(f"transition path, {seconds:g} s a rate: one round trip a step against pipelined:")
    for rate in rates:
        runs = []
        for batched in (False, True):
            store.batch_transitions = batched
            runs.append(await paced(store, pool, rate, seconds, done))
        old, new = runs
        print(f"  {rate:>6,.0f}/s  p99 {old.p99_ms:7.2f} -> {new.p99_ms:7.2f} ms"
              f"  client {old.client_us:4.0f} -> {new.client_us:4.0f} µs"
              f" (x{old.client_us / new.client_us:.2f})"
              f"  Redis {old.redis_us:4.0f} -> {new.redis_us:4.0f} µs"
              f" (x{old.redis_us / new.redis_us:.2f})"
              f"  round trips {old.trips:.2f} -> {new.trips:.2f}"
              f"  refused {old.refused} / {new.refused}")  # fmt: skip
    store.batch_transitions = True


async def paths(url: str, pool: list[str], rates: list[float], seconds: float,
                done: dict[str, int]) -> None:  # fmt: skip
    """The same pipelined steps through EVALSHA of the plain script (prelude run on every
    call) and FCALL of the library, one rate after the other: p50/p99, Redis µs per script
    call, Redis CPU and client CPU per transition."""
    print(f"script path, {seconds:g} s a rate and path: EVALSHA script -> FCALL library:")
    client = bounded_redis(Settings(redis_url=url))
    await interleaved(ClueStore(client, "bench", functions=False), ClueStore(client, "bench"),
                      pool[:1000])  # fmt: skip
    await client.aclose()
    for rate in rates:
        runs = []
        for functions in (False, True):
            client = bounded_redis(Settings(redis_url=url))
            runs.append(await paced(ClueStore(client, "bench", functions=functions), pool,
                                    rate, seconds, done))  # fmt: skip
            await client.aclose()
        old, new = runs
        print(f"  {rate:>6,.0f}/s  p50 {old.p50_ms:5.2f} -> {new.p50_ms:5.2f} ms"
              f"  p99 {old.p99_ms:6.2f} -> {new.p99_ms:6.2f} ms"
              f"  Redis µs/call {old.call_us:4.0f} -> {new.call_us:4.0f}"
              f" (x{old.call_us / max(1e-9, new.call_us):.2f})"
              f"  Redis CPU {old.redis_us:4.0f} -> {new.redis_us:4.0f} µs"
              f"  client {old.client_us:4.0f} -> {new.client_us:4.0f} µs"
              f"  achieved {new.achieved:,.0f}/s  refused {old.refused} / {new.refused}"
              f"  {'within' if new.p99_ms <= 5 and new.refused == 0 else 'past'} 5 ms")  # fmt: skip


async def sweep(
    store: ClueStore, pool: list[str], seconds: float, bound_ms: float, done: dict[str, int]
) -> None:
    """The highest offered rate at which transitions keep p99 <= ``bound_ms``: rates rise
    until p99 passes the bound, the achieved rate falls behind the offered or steps are
    refused (goal: >= SWEEP_GOAL transitions/s at p99 <= 5 ms, fsync on every write)."""
    print(f"transition rate sweep ({seconds:g} s a rate, bound p99 <= {bound_ms:g} ms):")
    best = 0.0
    for rate in SWEEP_RATES:
        r = await paced(store, pool, rate, seconds, done)
        ok = r.p99_ms <= bound_ms and r.achieved >= 0.95 * rate and r.refused == 0
        print(f"  offered {rate:>6,.0f}/s  achieved {r.achieved:>7,.0f}/s  p99 {r.p99_ms:7.2f} ms"
              f"  refused {r.refused}  client {r.client_us:4.0f} µs  Redis {r.redis_us:4.0f} µs"
              f"  round trips {r.trips:.2f}  {'within' if ok else 'past'} the bound")  # fmt: skip
        if not ok:
            break
        best = rate
    print(f"  highest rate within the bound: {best:,.0f} transitions/s"
          f" = {best / SWEEP_GOAL:.2f}x the goal of {SWEEP_GOAL:,}/s")  # fmt: skip


async def settle(client: aioredis.Redis) -> None:
    """Let Redis finish rewriting its append-only file (a fork) before timing latency."""
    await client.bgrewriteaof()
    while True:
        info = await client.info("persistence")
        if not info.get("aof_rewrite_in_progress") and not info.get("aof_rewrite_scheduled"):
            return
        await asyncio.sleep(0.2)


async def timed(fn: Callable[[], Awaitable[object]], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        await fn()
        out.append(time.perf_counter() - t)
    return out


async def lists(store: ClueStore, repeat: int) -> None:
    total = sum((await store.counts_by_status()).values())
    print(f"list latency over {total:,} clues (one page of 50):")
    deep: dict[str, str | None] = {"cursor": None}

    async def deep_page() -> None:
        page, deep["cursor"] = await store.list(limit=50, cursor=deep["cursor"])

    cases: list[tuple[str, Callable[[], Awaitable[object]]]] = [
        ("all, newest first (supervisor)", lambda: store.list(limit=50, who=CENTRE)),
        ("next pages by cursor", deep_page),
        (
            "department queue (inspector's scope)",
            lambda: store.list(query=ListQuery(status=("dispatched",)), who=INSPECTOR),
        ),
        ("one rule, all statuses", lambda: store.list(rule_id=RULES[1], limit=50)),
        (
            "colour green by deadline",
            lambda: store.list(query=ListQuery(colour="green", sort="due"), who=CENTRE),
        ),
        (
            "region filter (scan, 1 in 8 match)",
            lambda: store.list(query=ListQuery(region="330106"), who=CENTRE),
        ),
        ("new clues of one region in the triage queue", lambda: store.list(
            query=ListQuery(status=("new",), region="330112"), who=CENTRE)),
    ]  # fmt: skip
    for name, fn in cases:
        print(ms_line(name, await timed(fn, repeat)))


async def run(args: argparse.Namespace, url: str) -> None:
    client = bounded_redis(Settings(redis_url=url))  # the API's own client: a bounded pool
    try:
        await client.flushdb()
        if args.sink_only:
            if args.sink_seconds > 0:
                await sink(client, args.sink_seconds)
            return
        store = ClueStore(client, "bench")
        await ingest(store, args.clues)
        await preload(store, args.clues, args.preload)
        ids = [clue_id(f"bf-{i}") for i in range(args.clues)]
        await unpaced(store, ids[: args.dispatch], args.concurrency)
        ours = [cid for i, cid in enumerate(ids[: args.dispatch]) if (i // 3) % 4 == 0]
        await settle(client)
        done: dict[str, int] = {}
        r = await paced(store, ours, args.rate, args.seconds, done)
        print(f"transitions at {args.rate:g} ops/s for {args.seconds:g} s: {r.achieved:,.0f}"
              f" ops/s achieved, {r.refused} refused\n{r.latency_line}")  # fmt: skip
        print(f"  per transition: {r.client_us:.0f} µs client CPU, {r.redis_us:.0f} µs Redis"
              f" CPU, {r.trips:.2f} round trips")  # fmt: skip
        if args.path_seconds > 0:
            await settle(client)
            rates = [float(r) for r in args.path_rates.split(",") if r.strip()]
            await paths(url, ours, rates, args.path_seconds, done)
        if args.compare_seconds > 0:
            await settle(client)
            rates = [float(r) for r in args.compare_rates.split(",") if r.strip()]
            await compare(store, ours, rates, args.compare_seconds, done)
        if args.sweep_seconds > 0:
            await settle(client)
            await sweep(store, ours, args.sweep_seconds, args.bound_ms, done)
        await lists(store, args.repeat)
        if args.sink_seconds > 0:
            await sink(client, args.sink_seconds)
    finally:
        await client.aclose()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m riskloop.bench_clues", description=__doc__.splitlines()[0]
    )
    p.add_argument("--clues", type=int, default=100_000)
    p.add_argument("--dispatch", type=int, default=20_000, help="clues dispatched unpaced")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--rate", type=float, default=500.0, help="ops/s of the paced run")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument(
        "--compare-seconds",
        type=float,
        default=3.0,
        help="per rate and path of the old-against-pipelined run; 0: none",
    )
    p.add_argument("--compare-rates", default="500,1000,2000", help="ops/s, comma-separated")
    p.add_argument("--preload", type=int, default=0, help="clues more in the store")
    p.add_argument("--path-rates", default="1000,1500,2000", help="ops/s of EVALSHA vs FCALL")
    p.add_argument("--path-seconds", type=float, default=5.0, help="per rate and path; 0: none")
    p.add_argument("--sweep-seconds", type=float, default=3.0, help="per rate; 0: no sweep")
    p.add_argument("--bound-ms", type=float, default=5.0, help="p99 bound of the sweep")
    p.add_argument("--repeat", type=int, default=200, help="calls per list query")
    p.add_argument(
        "--sink-seconds", type=float, default=5.0, help="per sink measurement; 0: no sink section"
    )
    p.add_argument("--sink-only", action="store_true", help="measure the clue sink alone")
    p.add_argument("--redis-url", help="use this Redis (its database is flushed!)")
    p.add_argument(
        "--appendfsync",
        choices=("always", "everysec", "no"),
        default="always",
        help="AOF sync of the private Redis (always: what an acknowledged step needs)",
    )
    args = p.parse_args(argv)
    if args.redis_url:
        asyncio.run(run(args, args.redis_url))
        return 0
    from riskloop.services import start_redis

    with tempfile.TemporaryDirectory(prefix="clues-bench-") as tmp:
        service = start_redis(Path(tmp), appendfsync=args.appendfsync)
        try:
            print(f"redis-server {service.url} (appendonly yes, appendfsync {args.appendfsync})")
            asyncio.run(run(args, service.url))
        finally:
            service.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
