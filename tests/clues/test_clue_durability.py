"""Durability: Redis (append-only file on) restarted in the middle of inspector traffic keeps
every transition the store acknowledged, with its audit entry, and loses no clue."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from clue_factories import ALICE, CENTRE, EVIDENCE, T0, make_warning
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from clues.model import ClueError, clue_id
from clues.store import ClueStore
from riskloop.services import restart, start_redis

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

N_CLUES = 300
FLOW = (
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


async def test_every_acknowledged_transition_survives_a_restart(tmp_path: Path) -> None:
    service = start_redis(tmp_path / "redis")
    client = aioredis.from_url(service.url, decode_responses=True)
    try:
        store = ClueStore(client, "dur")
        await store.upsert_warnings([make_warning(f"w{i}", f"fp-{i}") for i in range(N_CLUES)])
        ids = [clue_id(f"fp-{i}") for i in range(N_CLUES)]
        acked: list[Ack] = []
        traffic = asyncio.create_task(work(store, ids, acked))
        while len(acked) < N_CLUES:  # well into the traffic
            await asyncio.sleep(0.01)
        restarted_at = time.monotonic()
        await asyncio.to_thread(restart, service)
        await traffic

        before = sum(1 for *_, t in acked if t < restarted_at)
        assert 0 < before < len(acked), "the restart did not fall in the middle of the traffic"
        for cid, action, version, _ in acked:
            trail = {(e.action, e.version) for e in await store.audit(cid)}
            assert (action, version) in trail, f"{action} v{version} of {cid} was lost"
        counts = await store.counts_by_status()
        assert sum(counts.values()) == N_CLUES
        assert await client.zcard("dur:q:all") == N_CLUES
    finally:
        await client.aclose()
        service.stop()
