"""A batch of warnings upserted in a few script calls leaves Redis exactly as the same
warnings applied one call each: every clue hash, index, audit entry and outbox record; and a
batch sent again changes nothing."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
import redis.asyncio as aioredis
from clue_factories import ALICE, CENTRE, T0, dispose_clue, make_warning
from redis.exceptions import ConnectionError

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
    falling), the same warning twice in the batch, one applied before, new warnings of a clue
    opened before, and a repeat of a closed clue."""
    w = make_warning
    return [
        w("a1", "fp-a"),
        w("b1", "fp-b", ts_ms=T0 + 5 * MINUTE, severity="high"),
        w("a2", "fp-a", ts_ms=T0 + 2 * MINUTE, severity="high", summary="later"),
        w("a3", "fp-a", ts_ms=T0 - MINUTE, title="earlier"),  # older: content kept
        w("a2", "fp-a", ts_ms=T0 + 2 * MINUTE, severity="high", summary="later"),  # again
        w("old1", "fp-old"),  # applied before the batch
        w("old2", "fp-old", ts_ms=T0 - 2 * MINUTE, severity="critical"),  # earlier, higher
        w("c1", "fp-closed", ts_ms=T0 + 3 * DAY),  # its clue is closed: a linked clue
        w("b2", "fp-b", ts_ms=T0 + 4 * MINUTE, severity="critical", value=2.5),
        w("c2", "fp-closed", ts_ms=T0 + 3 * DAY + 1, severity="critical"),
        *(w(f"n{i}", f"fp-n{i % 4}", ts_ms=T0 + i, severity="low") for i in range(12)),
        w("a4", "fp-a", ts_ms=T0 + 9 * MINUTE, severity="low", details={"k": 1}),
        w("old3", "fp-old", ts_ms=T0 + MINUTE),
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


def _in_time_order(batch: list[RiskWarning]) -> list[RiskWarning]:
    return sorted(batch, key=lambda w: w.ts_ms)


async def _clues(store: ClueStore) -> dict[str, Any]:
    """What a user sees of the clues: every key but the audit trails and the outbox, a clue
    without its version (a step of many warnings is one version) and its list of warning
    ids as a set (they go on in batch order)."""
    out = {}
    for name, value in (await _dump(store.redis, store.prefix)).items():
        if name.endswith(":audit") or name == ":outbox":
            continue
        if name.endswith(":warnings"):
            value = sorted(value)
        elif name.startswith(":clue:"):
            value = {k: v for k, v in value.items() if k != "version"}
        out[name] = value
    return out


async def _assert_every_step_audited_and_published(store: ClueStore) -> None:
    state = await _dump(store.redis, store.prefix)
    published = sorted(o["value"]["id"] for o in state[":outbox"])
    assert len(published) == len(set(published))  # one record per version
    for name, h in state.items():
        if name.startswith(":clue:") and "version" in h:
            trail = await store.audit(h["id"])
            assert [e.version for e in trail] == list(range(1, int(h["version"]) + 1))
            assert [f"{h['id']}@v{e.version}" for e in trail] == sorted(
                i for i in published if i.startswith(f"{h['id']}@")
            )
            counts = [e.after["warning_count"] for e in trail if "warning_count" in e.after]
            assert counts[-1] == h["warning_count"]


async def test_one_warning_a_call_in_one_lane_is_exactly_the_warnings_one_by_one(
    store: ClueStore, twin: ClueStore
) -> None:
    await _setup(store)
    await _setup(twin)
    batch = _batch()

    together = await store.upsert_warnings(batch, chunk=1, lanes=1)
    singly = [r for w in batch for r in await twin.upsert_warnings([w])]

    assert together == singly
    assert await _dump(store.redis, store.prefix) == await _dump(twin.redis, twin.prefix)


@pytest.mark.parametrize(("chunk", "lanes"), [(200, 1), (200, 2), (6, 2), (5, 1)])
async def test_a_batch_leaves_every_clue_as_its_warnings_one_by_one_in_event_time_order(
    store: ClueStore, twin: ClueStore, chunk: int, lanes: int
) -> None:
    """Whenever a clue's warnings fit in one call (at most 5 here), however calls and lanes
    cut the batch."""
    await _setup(store)
    await _setup(twin)
    batch = _batch()

    together = await store.upsert_warnings(batch, chunk=chunk, lanes=lanes)
    singly = [r for w in _in_time_order(batch) for r in await twin.upsert_warnings([w])]

    assert Counter(together) == Counter(singly) == {"new": 7, "merged": 15, "duplicate": 3}
    assert [r for w, r in zip(batch, together, strict=True) if w.id == "a1"] == ["new"]
    assert await _clues(store) == await _clues(twin)
    a = await store.get(clue_id("fp-a"))
    assert a is not None
    assert (a.warning_count, a.severity, a.title, a.summary) == (4, "high", "approval overdue", "")
    assert a.first_seen_ms == T0 - MINUTE and a.last_seen_ms == T0 + 9 * MINUTE
    assert a.details == {"k": 1}  # the newest warning's content
    await _assert_every_step_audited_and_published(store)


async def test_the_warnings_of_one_clue_in_a_batch_are_one_step(store: ClueStore) -> None:
    await _setup(store)

    await store.upsert_warnings(_batch())

    a, old = clue_id("fp-a"), clue_id("fp-old")
    assert [(e.action, e.reason, e.after) for e in await store.audit(a)] == [
        ("open", "4 warnings a1, a2, a3, a4", {
            "status": "new", "department": "market-supervision", "priority": "3",
            "warning_count": "4", "first_seen_ms": str(T0 - MINUTE),
            "last_seen_ms": str(T0 + 9 * MINUTE),
        }),
    ]  # fmt: skip
    assert [(e.action, e.reason, e.after) for e in await store.audit(old)][1:] == [
        ("raise_priority", "2 warnings old2, old3: critical", {
            "priority": "4", "warning_count": "3", "first_seen_ms": str(T0 - 2 * MINUTE),
            "last_seen_ms": str(T0 + MINUTE),
        }),
    ]  # fmt: skip
    assert await store.warning_ids(old) == ["old1", "old2", "old3"]


async def test_a_repeat_takes_the_priority_of_its_earliest_warning_raised_by_the_rest(
    store: ClueStore,
) -> None:
    """As if applied in event-time order, whatever the order in the batch."""
    await _setup(store)
    c2 = make_warning("c2", "fp-closed", ts_ms=T0 + 3 * DAY + 1, severity="critical")
    c1 = make_warning("c1", "fp-closed", ts_ms=T0 + 3 * DAY)  # medium: the repeat bump is 3

    await store.upsert_warnings([c2, c1])

    link = await store.get(clue_id("fp-closed", 1))
    assert link is not None
    assert (link.repeat_of, link.priority, link.severity) == (clue_id("fp-closed"), 4, "critical")
    assert link.updated_ms == T0 + 3 * DAY  # opened by the earliest


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_the_order_of_a_batch_does_not_change_the_clues(
    store: ClueStore, twin: ClueStore, seed: int
) -> None:
    await _setup(store)
    await _setup(twin)
    shuffled = _batch()
    random.Random(seed).shuffle(shuffled)

    await store.upsert_warnings(_batch())
    await twin.upsert_warnings(shuffled, chunk=5)

    assert await _clues(store) == {
        k: sorted(v) if k.endswith(":warnings") else v for k, v in (await _clues(twin)).items()
    }


async def test_overlapping_resends_in_any_order_count_every_warning_once(
    store: ClueStore,
) -> None:
    warnings = [make_warning(f"r{i}", f"fp-r{i % 30}", ts_ms=T0 + i) for i in range(300)]
    sends = [warnings[0:200], warnings[100:300], warnings[50:250], warnings[::-1]]

    results = [await store.upsert_warnings(batch, chunk=17) for batch in sends[::-1]]
    again = await asyncio.gather(*(store.upsert_warnings(b) for b in sends))

    assert Counter(results[0]) == {"new": 30, "merged": 270}
    assert all(set(r) == {"duplicate"} for r in results[1:] + list(again))
    for n in (0, 7, 29):
        clue = await store.get(clue_id(f"fp-r{n}"))
        assert clue is not None
        assert (clue.warning_count, clue.first_seen_ms, clue.last_seen_ms) == (
            10,
            T0 + n,
            T0 + 270 + n,
        )


async def test_a_clue_with_more_warnings_than_a_call_holds(store: ClueStore) -> None:
    warnings = [make_warning(f"m{i}", "fp-m", ts_ms=T0 + i) for i in range(450)]

    results = await store.upsert_warnings(warnings, chunk=200)

    assert Counter(results) == {"new": 1, "merged": 449}
    clue = await store.get(clue_id("fp-m"))
    assert clue is not None and clue.warning_count == 450
    trail = await store.audit(clue.id)
    assert [(e.action, e.reason.split(" ")[0]) for e in trail] == [
        ("open", "200"),
        ("merge_warning", "200"),
        ("merge_warning", "50"),
    ]
    assert trail[0].reason.endswith("m8, m9, …")
    assert await store.warning_ids(clue.id) == [f"m{i}" for i in range(350, 450)]


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
@pytest.mark.parametrize("functions", [True, False], ids=["function-flush", "script-flush"])
async def test_upserts_go_on_after_redis_lost_its_lua(
    redis_client: aioredis.Redis, prefix: str, chunk: int, functions: bool
) -> None:
    store = ClueStore(redis_client, prefix, functions=functions)
    await store.upsert_warnings([make_warning("s0", "fp-s")])
    # as after a Redis restart without the library (or its scripts)
    await (redis_client.function_flush() if functions else redis_client.script_flush())
    results = await store.upsert_warnings(
        [make_warning("s1", "fp-s", ts_ms=T0 + MINUTE), make_warning("s2", "fp-t")], chunk=chunk
    )
    assert results == ["merged", "new"]
    clue = await store.get(clue_id("fp-s"))
    assert clue is not None and clue.warning_count == 2


async def test_a_batch_that_failed_half_way_sent_again_counts_every_warning_once(
    store: ClueStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    warnings = [make_warning(f"h{i}", f"fp-h{i % 40}", ts_ms=T0 + i) for i in range(400)]
    real, calls = store._upsert.many, 0

    async def flaky(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 2:  # one lane loses its connection; the other goes through
            raise ConnectionError("connection reset")
        return await real(*args, **kwargs)

    monkeypatch.setattr(store._upsert, "many", flaky)
    with pytest.raises(ConnectionError):
        await store.upsert_warnings(warnings, chunk=100)
    lanes = [t for t in asyncio.all_tasks() if "_send_lane" in repr(t.get_coro())]
    assert not lanes  # none still writing beside the retry that follows
    written = [await store.get(clue_id(f"fp-h{n}")) for n in range(40)]
    landed = sum(c.warning_count for c in written if c is not None)
    monkeypatch.setattr(store._upsert, "many", real)

    again = await store.upsert_warnings(warnings, chunk=100)

    assert 0 < landed < 400  # the other lane had ended when the failure was raised
    assert again.count("duplicate") == landed
    clues = [await store.get(clue_id(f"fp-h{n}")) for n in range(40)]
    assert [c.warning_count if c else 0 for c in clues] == [10] * 40
