"""Durability: Redis (append-only file synced on every write, as the store needs) killed hard
(SIGKILL, no chance to flush) in the middle of inspector traffic and started again keeps every
transition the store acknowledged, with its audit entry, and loses no clue. The API warns at
start-up about a Redis that cannot promise this."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from clue_factories import ALICE, CENTRE, EVIDENCE, T0, make_warning
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from clues.access import Principal
from clues.api import persistence_risk
from clues.model import ClueError, clue_id
from clues.store import ClueStore
from riskloop.services import Service, ensure_tool, free_port, start_redis

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

N_CLUES = 300
FLOW: tuple[tuple[str, Principal, dict[str, Any]], ...] = (
    ("dispatch", CENTRE, {}),
    ("claim", ALICE, {}),
    ("comment", ALICE, {"text": "checked the register"}),
    ("dispose", ALICE, {"code": "rectified", "evidence_refs": EVIDENCE}),
)
Ack = tuple[str, str, int, float]


async def work(store: ClueStore, ids: list[str], acked: list[Ack]) -> None:
    """Walk every clue through the flow, retrying while Redis is away."""
    for cid in ids:
        for action, who, args in FLOW:
            for _ in range(200):
                try:
                    clue = await store.transition(cid, action, who, T0 + 60_000, args)
                except (RedisConnectionError, RedisTimeoutError, OSError):
                    await asyncio.sleep(0.02)
                    continue
                except ClueError:  # an attempt whose reply was lost had done it
                    break
                acked.append((cid, action, clue.version, time.monotonic()))
                break


def start_synced_redis(workdir: Path) -> Service:
    """A private redis-server with ``appendonly yes`` and ``appendfsync always``."""
    port = free_port()
    argv = [ensure_tool("redis-server", "redis-server"), "--port", str(port)]
    argv += ["--bind", "127.0.0.1", "--save", "", "--appendonly", "yes"]
    argv += ["--appendfsync", "always", "--dir", str(workdir)]
    url = f"redis://127.0.0.1:{port}/0"
    return Service("redis", argv, port, url, workdir, workdir / "redis.log", _pings).launch()


def _pings(service: Service) -> bool:
    import redis

    client = redis.Redis(host="127.0.0.1", port=service.port, socket_timeout=1)
    try:
        return bool(client.ping())
    finally:
        client.close()


def kill_hard_and_start(service: Service) -> int:
    """SIGKILL Redis (nothing flushed on the way out), start it on its files; the exit code."""
    assert service.proc is not None and service.pid is not None
    os.killpg(service.pid, signal.SIGKILL)
    code = service.proc.wait()
    service.launch()
    return code


async def test_every_acknowledged_transition_survives_a_hard_kill(tmp_path: Path) -> None:
    service = start_synced_redis(tmp_path / "redis")
    client = aioredis.from_url(service.url, decode_responses=True)
    try:
        store = ClueStore(client, "dur")
        await store.upsert_warnings([make_warning(f"w{i}", f"fp-{i}") for i in range(N_CLUES)])
        ids = [clue_id(f"fp-{i}") for i in range(N_CLUES)]
        acked: list[Ack] = []
        traffic = asyncio.create_task(work(store, ids, acked))
        while len(acked) < N_CLUES:  # well into the traffic
            await asyncio.sleep(0.01)
        killed_at = time.monotonic()
        code = await asyncio.to_thread(kill_hard_and_start, service)
        await traffic

        assert code == -signal.SIGKILL
        before = sum(1 for *_, t in acked if t < killed_at)
        assert 0 < before < len(acked), "the kill did not fall in the middle of the traffic"
        for cid, action, version, _ in acked:
            trail = {(e.action, e.version) for e in await store.audit(cid)}
            assert (action, version) in trail, f"{action} v{version} of {cid} was lost"
        counts = await store.counts_by_status()
        assert sum(counts.values()) == N_CLUES
        assert await client.zcard("dur:q:all") == N_CLUES
        assert await persistence_risk(client) is None  # what the store needs: no warning
    finally:
        await client.aclose()
        service.stop()


async def test_the_api_is_told_when_redis_could_lose_acknowledged_transitions(
    tmp_path: Path,
) -> None:
    service = start_redis(tmp_path / "redis", appendfsync="everysec")  # synced once a second
    client = aioredis.from_url(service.url, decode_responses=True)
    try:
        everysec = await persistence_risk(client)
        await client.config_set("appendonly", "no")
        no_aof = await persistence_risk(client)
    finally:
        await client.aclose()
        service.stop()

    assert everysec is not None and "'everysec', not on every write" in everysec
    assert no_aof is not None and "without its append-only file" in no_aof
    for message in (everysec, no_aof):
        assert message.endswith("run redis-server with --appendonly yes --appendfsync always")
