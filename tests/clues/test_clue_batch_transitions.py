"""Transitions made at once by concurrent callers share a pipeline to Redis: each caller still
hears its own answer, a refused step refuses only its caller, and a Redis that lost the script
gets it again. Against the session Redis."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis
from clue_factories import ALICE, BOB, CENTRE, OUTSIDER, T0, make_warning

from clues.model import ClueNotFound, Forbidden, IllegalTransition, clue_id
from clues.store import ClueStore

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


async def dispatched(store: ClueStore, n: int) -> list[str]:
    await store.upsert_warnings([make_warning(f"w{i}", fingerprint=f"fp-{i}") for i in range(n)])
    ids = [clue_id(f"fp-{i}") for i in range(n)]
    for cid in ids:
        await store.transition(cid, "dispatch", CENTRE, T0)
    return ids


async def test_concurrent_callers_each_hear_their_own_answer(store: ClueStore) -> None:
    ids = await dispatched(store, 4)
    calls = [store.transition(cid, "claim", ALICE, T0 + 1000) for cid in ids]
    calls.append(store.transition(ids[0], "claim", BOB, T0 + 1000))  # alice's already
    calls.append(store.transition(ids[1], "comment", OUTSIDER, T0 + 1000, {"text": "x"}))
    calls.append(store.transition(clue_id("fp-none"), "claim", ALICE, T0 + 1000))

    results = await asyncio.gather(*calls, return_exceptions=True)

    assert [(c.id, c.status, c.claimed_by) for c in results[:4]] == [  # type: ignore[union-attr]
        (cid, "claimed", "alice") for cid in ids
    ]
    assert isinstance(results[4], IllegalTransition)
    assert isinstance(results[5], Forbidden)
    assert isinstance(results[6], ClueNotFound)
    for cid in ids:
        trail = [(e.action, e.actor) for e in await store.audit(cid)]
        assert trail[-1] == ("claim", "alice") and ("claim", "bob") not in trail


@pytest.mark.parametrize("functions", [True, False], ids=["function-flush", "script-flush"])
async def test_a_redis_that_lost_the_lua_still_runs_every_concurrent_step(
    redis_client: aioredis.Redis, prefix: str, functions: bool
) -> None:
    store = ClueStore(redis_client, prefix, functions=functions)
    ids = await dispatched(store, 3)
    # as after a Redis restarted without the library (or its scripts)
    await (redis_client.function_flush() if functions else redis_client.script_flush())

    after = await asyncio.gather(*(store.transition(c, "claim", ALICE, T0) for c in ids))
    alone = await store.transition(ids[0], "comment", ALICE, T0, {"text": "x"})
    await (redis_client.function_flush() if functions else redis_client.script_flush())
    again = await store.transition(ids[1], "comment", ALICE, T0, {"text": "y"})

    assert [c.status for c in after] == ["claimed"] * 3
    assert (alone.status, again.status) == ("claimed", "claimed")
    stored = [await store.get(c) for c in ids]
    assert [c.claimed_by if c else None for c in stored] == ["alice"] * 3
    trail = [(e.action, e.reason) for e in await store.audit(ids[1])]
    assert trail[-1] == ("comment", "y")


async def test_the_reads_of_concurrent_dispatches_share_one_round_trip(store: ClueStore) -> None:
    await store.upsert_warnings([make_warning(f"r{i}", fingerprint=f"fp-r{i}") for i in range(5)])
    ids = [clue_id(f"fp-r{i}") for i in range(5)]
    reads = store.read_calls.sends

    after = await asyncio.gather(*(store.transition(c, "dispatch", CENTRE, T0) for c in ids))

    assert [(c.id, c.status) for c in after] == [(c, "dispatched") for c in ids]
    assert store.read_calls.sends - reads == 1  # one pipeline read the five clues
    assert all(c.due_ms is not None and c.due_ms > T0 for c in after)  # deadlines from the read
