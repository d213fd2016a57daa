"""The clue sink's part of ``python -m riskloop.bench_clues``, and the warnings it writes.

Warnings/s sustained by ``upsert_warnings`` for batches as the sink writes them, one script
call per warning in one pipeline (the baseline) against the store's way, with the Redis CPU
each warning took and the ratio. Prints figures, asserts nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Callable

import redis.asyncio as aioredis

from clues.access import Principal
from clues.model import ClueError, clue_id
from clues.store import CHUNK, LANES, ClueStore
from envelope.events import RiskWarning

DEPARTMENTS = ("market-supervision", "housing", "health", "civil-affairs")
REGIONS = ("330102", "330105", "330106", "330108", "330109", "330110", "330111", "330112")
RULES = ("approval.overdue", "hotline.surge", "staff.bulk_access", "shell.shared_address")
T0 = 1_772_414_100_000


def warning(i: int) -> RiskWarning:
    return RiskWarning(
        id=f"bw-{i}",
        fingerprint=f"bf-{i}",
        rule_id=RULES[i % len(RULES)],
        rule_version=1,
        logic_hash="bench",
        severity=("low", "medium", "high", "critical")[i % 4],
        title=f"bench clue {i}",
        key=f"region={REGIONS[i % len(REGIONS)]}|applicant=cit-{i}",
        ts_ms=T0 + i,
        region=REGIONS[i % len(REGIONS)],
        department=DEPARTMENTS[(i // 3) % len(DEPARTMENTS)],
        evidence=(f"evt-{i}",),
    )


SINK_BATCH = 500  # what the clue sink hands to upsert_warnings (streams.agents.SINK_BATCH)
SINK_MIXES: dict[str, Callable[[int], int]] = {  # warning i -> its clue's number
    "half new clues, half merges": lambda i: i // 2,
    "every warning a new clue": lambda i: i,
    "50 busy clues (10 a clue a batch)": lambda i: i % 50,
}


def sink_warning(tag: str, i: int, clue: int) -> RiskWarning:
    """Warning ``i`` of a sink run, of the clue numbered ``clue``."""
    return dataclasses.replace(warning(i), id=f"{tag}-w{i}", fingerprint=f"{tag}-f{clue}")


async def preload(store: ClueStore, first: int, n: int, batch: int = 20_000) -> None:
    """``n`` more clues (warnings ``first`` ... ``first + n - 1``), a few batches in flight
    at once, and the Redis memory they take."""
    if n <= 0:
        return
    before = (await store.redis.info("memory"))["used_memory"]
    fsync = (await store.redis.config_get("appendfsync"))["appendfsync"]
    await store.redis.config_set("appendfsync", "no")  # the load, not what is measured
    start, sem = time.perf_counter(), asyncio.Semaphore(3)

    async def one(lo: int) -> None:
        async with sem:
            await store.upsert_warnings([warning(i) for i in range(lo, min(first + n, lo + batch))])

    await asyncio.gather(*(one(lo) for lo in range(first, first + n, batch)))
    took = time.perf_counter() - start
    await store.redis.config_set("appendfsync", fsync)
    mem = (await store.redis.info("memory"))["used_memory"]
    print(f"preload: {n:,} clues in {took:.1f} s ({n / took:,.0f}/s); Redis used_memory"
          f" {mem / 2**20:,.0f} MiB ({(mem - before) / n:,.0f} bytes a clue with its indexes,"
          " audit and outbox)")  # fmt: skip


async def interleaved(store_eval: ClueStore, store_fn: ClueStore, ids: list[str]) -> None:
    """Redis µs per call of EVALSHA and FCALL taking turns (so a busy machine slows both
    alike): a call refused at once (an unknown clue: the preamble and one HMGET) and a
    supervisor's comment (a full step: audit, outbox, indexes)."""
    who = Principal("bench-centre", "supervisor")
    now, missing = int(time.time() * 1000), clue_id("bench-no-such-clue")
    for name, step in (("refused at once", "missing"), ("comment", "comment")):
        before = await call_stats(store_fn.redis)
        for cid in ids:
            for store in (store_eval, store_fn):
                with contextlib.suppress(ClueError):  # the refusal is what is timed
                    target = missing if step == "missing" else cid
                    await store.transition(target, "comment", who, now, {"text": "bench"})
        after = await call_stats(store_fn.redis)
        us = {k: us_per_call(before, {k: v}) for k, v in after.items()}
        print(f"  interleaved, {name}: Redis µs a call EVALSHA {us.get('evalsha', 0):.0f},"
              f" FCALL {us.get('fcall', 0):.0f} ({len(ids)} each)")  # fmt: skip


async def call_stats(client: aioredis.Redis) -> dict[str, tuple[int, int]]:
    """Calls and Redis µs so far of each script command (INFO commandstats)."""
    info = await client.info("commandstats")
    return {
        name: (int(info[f"cmdstat_{name}"]["calls"]), int(info[f"cmdstat_{name}"]["usec"]))
        for name in ("evalsha", "fcall")
        if f"cmdstat_{name}" in info
    }


def us_per_call(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> float:
    """Redis µs per script call (EVALSHA and FCALL) between two ``call_stats``."""
    calls = sum(after[k][0] - before.get(k, (0, 0))[0] for k in after)
    usec = sum(after[k][1] - before.get(k, (0, 0))[1] for k in after)
    return usec / max(1, calls)


async def redis_cpu_s(client: aioredis.Redis) -> float:
    """CPU seconds of Redis's main thread so far (user + system)."""
    info = await client.info("cpu")
    return float(info["used_cpu_user_main_thread"]) + float(info["used_cpu_sys_main_thread"])


@dataclasses.dataclass
class SinkRate:
    warnings_s: float  # warnings written per second
    clues_s: float  # clues they opened per second
    cpu_us: float  # Redis CPU per warning


async def sink_rate(
    store: ClueStore, mix: Callable[[int], int], batch: int, seconds: float, **how: int
) -> SinkRate:
    """Warnings/s of back-to-back ``upsert_warnings`` calls of ``batch`` warnings, as the sink
    makes them (one at a time), the clues they opened per second, and Redis CPU µs per
    warning. Only the calls are timed: the warnings are made between them."""
    done, opened, took = 0, 0, 0.0
    cpu = await redis_cpu_s(store.redis)
    while took < seconds:
        warnings = [sink_warning(store.prefix, i, mix(i)) for i in range(done, done + batch)]
        start = time.perf_counter()
        results = await store.upsert_warnings(warnings, **how)
        took += time.perf_counter() - start
        done += batch
        opened += results.count("new")
    cpu_us = (await redis_cpu_s(store.redis) - cpu) / done * 1e6
    return SinkRate(done / took, opened / took, cpu_us)


async def sink(client: aioredis.Redis, seconds: float) -> None:
    """The clue sink's path, per warning (one script call each, one pipeline: the baseline)
    against the store's way (a clue's warnings one step, CHUNK a call, LANES pipelines)."""
    print(
        f"clue sink: warnings/s of upsert_warnings, {seconds:g} s each (Redis CPU per warning);"
        f" one script call per warning against grouped by clue, {CHUNK} a call, {LANES} lanes:"
    )
    cases = [(name, mix, SINK_BATCH) for name, mix in SINK_MIXES.items()]
    cases.append(("a quiet stream: batches of 1", SINK_MIXES["every warning a new clue"], 1))
    for n, (name, mix, batch) in enumerate(cases):
        rates = []
        for way, how in (("singly", {"chunk": 1, "lanes": 1}), ("grouped", {})):
            store = ClueStore(client, f"bench-sink-{n}-{way}")
            rates.append(await sink_rate(store, mix, batch, seconds, **how))
        old, new = rates
        print(
            f"  {name:<36} per warning {old.warnings_s:>7,.0f} /s ({old.cpu_us:4.0f} µs,"
            f" {old.clues_s:>7,.0f} clues/s), grouped {new.warnings_s:>7,.0f} /s"
            f" ({new.cpu_us:4.0f} µs, {new.clues_s:>7,.0f} clues/s)"
            f"  x{new.warnings_s / old.warnings_s:.2f}"
        )
