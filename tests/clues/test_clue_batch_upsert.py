"""A batch of warnings upserted in a few script calls leaves Redis exactly as the same
warnings applied one call each: every clue hash, index, audit entry and outbox record; and a
batch sent again changes nothing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
import redis.asyncio as aioredis
from clue_factories import ALICE, CENTRE, T0, dispose_clue, make_warning

from clues.model import clue_id
from clues.store import ClueStore
from envelope.events import RiskWarning

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

MINUTE = 60_000
DAY = 24 * 60 * MINUTE


def _json_or_text(v: str) -> Any:
    try:
        return orjson.loads(v)
    except orjson.JSONDecodeError:
        return v


async def _dump(r: aioredis.Redis, prefix: str) -> dict[str, Any]:
    """Every key under ``prefix`` (prefix cut off) with its whole content; streams as their
    entries' fields in order (entry ids are the wall clock), JSON values parsed."""
    out: dict[str, Any] = {}
    async for k in r.scan_iter(match=f"{prefix}:*", count=1000):
        name, kind = k[len(prefix) :], await r.type(k)
        if kind == "hash":
            out[name] = await r.hgetall(k)  # type: ignore[misc]
        elif kind == "zset":
            out[name] = await r.zrange(k, 0, -1, withscores=True)
        elif kind == "list":
            out[name] = await r.lrange(k, 0, -1)  # type: ignore[misc]
        elif kind == "set":
            out[name] = sorted(await r.smembers(k))  # type: ignore[misc]
        elif kind == "stream":
            rows = await r.xrange(k)
            out[name] = [{f: _json_or_text(v) for f, v in fields.items()} for _, fields in rows]
        else:
            out[name] = await r.get(k)
    return out


@pytest.fixture
async def twin(redis_client: aioredis.Redis) -> AsyncIterator[ClueStore]:
    """A second store on the same Redis under a prefix of its own (deleted after)."""
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    yield ClueStore(redis_client, prefix)
    keys = [k async for k in redis_client.scan_iter(match=f"{prefix}:*", count=1000)]
    for i in range(0, len(keys), 500):
        await redis_client.unlink(*keys[i : i + 500])


def _batch() -> list[RiskWarning]:
    """New and merging fingerprints, event times out of order, a severity rising (and
    falling), the same warning id twice in the batch, one applied before, and a repeat of a
    closed clue."""
    w = make_warning
    return [
        w("a1", "fp-a"),
        w("b1", "fp-b", ts_ms=T0 + 5 * MINUTE, severity="high"),
        w("a2", "fp-a", ts_ms=T0 + 2 * MINUTE, severity="high", summary="later"),
        w("a3", "fp-a", ts_ms=T0 - MINUTE, title="earlier"),  # older: content kept
        w("a2", "fp-a", ts_ms=T0 + 2 * MINUTE, severity="high"),  # the same id again
        w("old1", "fp-old"),  # applied before the batch
        w("c1", "fp-closed", ts_ms=T0 + 3 * DAY),  # its clue is closed: a linked clue
        w("b2", "fp-b", ts_ms=T0 + 4 * MINUTE, severity="critical", value=2.5),
        w("c2", "fp-closed", ts_ms=T0 + 3 * DAY + 1, severity="critical"),
        *(w(f"n{i}", f"fp-n{i % 4}", ts_ms=T0 + i, severity="low") for i in range(12)),
        w("a4", "fp-a", ts_ms=T0 + 9 * MINUTE, severity="low", details={"k": 1}),
        w("b1", "fp-b", ts_ms=T0 + 5 * MINUTE, severity="high"),
    ]


async def _setup(store: ClueStore) -> None:
    """The same state before the batch: an open clue and a closed one."""
    await store.upsert_warnings([make_warning("old1", "fp-old")])
    await store.upsert_warnings([make_warning("c0", "fp-closed")])
    cid = clue_id("fp-closed")
    await dispose_clue(store, cid, "rectified")
    await store.transition(cid, "submit", ALICE, T0 + 10)
    await store.transition(cid, "approve", CENTRE, T0 + 20)


@pytest.mark.parametrize("chunk", [200, 3, 1])
async def test_a_batch_leaves_exactly_the_state_of_its_warnings_one_by_one(
    store: ClueStore, twin: ClueStore, chunk: int
) -> None:
    await _setup(store)
    await _setup(twin)
    batch = _batch()

    together = await store.upsert_warnings(batch, chunk=chunk)
    singly = [r for w in batch for r in await twin.upsert_warnings([w])]

    assert together == singly
    assert together.count("duplicate") == 3  # a2 again, old1, b1 again
    assert together.count("new") == 3 + 4  # fp-a, fp-b, the closed one's link, fp-n0..3
    state = await _dump(store.redis, store.prefix)
    assert state == await _dump(twin.redis, twin.prefix)
    a = await store.get(clue_id("fp-a"))
    assert a is not None
    assert (a.warning_count, a.severity, a.title) == (4, "high", "approval overdue")
    audit = await store.audit(clue_id("fp-a"))
    assert [e.action for e in audit] == ["open", "raise_priority", "merge_warning"] + [
        "merge_warning"
    ]
    outbox = state[":outbox"]
    assert len(outbox) == len({o["value"]["id"] for o in outbox})  # one record per version


async def test_a_batch_sent_again_changes_nothing(store: ClueStore) -> None:
    await _setup(store)
    batch = _batch()
    await store.upsert_warnings(batch, chunk=7)
    before = await _dump(store.redis, store.prefix)

    again = await store.upsert_warnings(batch, chunk=7)

    assert again == ["duplicate"] * len(batch)
    assert await _dump(store.redis, store.prefix) == before


async def test_an_empty_batch_and_a_bad_chunk(store: ClueStore) -> None:
    assert await store.upsert_warnings([]) == []
    with pytest.raises(ValueError, match="chunk=0"):
        await store.upsert_warnings([make_warning("w1")], chunk=0)


@pytest.mark.parametrize("chunk", [200, 1])
async def test_upserts_go_on_after_redis_lost_its_scripts(
    store: ClueStore, redis_client: aioredis.Redis, chunk: int
) -> None:
    await store.upsert_warnings([make_warning("s0", "fp-s")])
    await redis_client.script_flush()  # as after a Redis restart without persistence of scripts
    results = await store.upsert_warnings(
        [make_warning("s1", "fp-s", ts_ms=T0 + MINUTE), make_warning("s2", "fp-t")], chunk=chunk
    )
    assert results == ["merged", "new"]
    clue = await store.get(clue_id("fp-s"))
    assert clue is not None and clue.warning_count == 2
