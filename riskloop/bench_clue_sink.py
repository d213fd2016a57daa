"""The clue sink's part of ``python -m riskloop.bench_clues``, and the warnings it writes.

Warnings/s sustained by ``upsert_warnings`` for batches as the sink writes them, one script
call per warning in one pipeline (the baseline) against the store's way, with the Redis CPU
each warning took and the ratio. Prints figures, asserts nothing.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import redis.asyncio as aioredis

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
