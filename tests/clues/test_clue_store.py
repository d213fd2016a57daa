"""ClueStore against a real Redis: idempotent upsert, merge, claims, leases, dispositions."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
import redis.asyncio as aioredis
from clue_factories import T0, make_warning

from clues.model import (
    BadDisposition,
    ClueNotFound,
    IllegalTransition,
    UnknownDispositionCode,
    clue_id,
)
from clues.store import ClueStore, InvalidCursor
from riskloop.events import Disposition

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

MINUTE = 60_000


async def all_pages(store: ClueStore, **filters: object) -> list[str]:
    ids: list[str] = []
    cursor = None
    while True:
        page, cursor = await store.list(limit=7, cursor=cursor, **filters)  # type: ignore[arg-type]
        ids += [c.id for c in page]
        if cursor is None:
            return ids


async def open_and_claim(store: ClueStore, actor: str = "alice", now_ms: int = T0) -> str:
    await store.upsert_warnings([make_warning("w1"), make_warning("w2", ts_ms=T0 + MINUTE)])
    cid = clue_id("fp-1")
    await store.claim(cid, actor, now_ms=now_ms)
    return cid


async def test_same_warnings_twice_make_exactly_one_clue_per_fingerprint(
    store: ClueStore,
) -> None:
    warnings = [
        make_warning(f"w{i}", fingerprint=f"fp-{i % 100}", ts_ms=T0 + i * 1000) for i in range(1000)
    ]

    first = await store.upsert_warnings(warnings)
    second = await store.upsert_warnings(warnings)

    assert Counter(first) == {"new": 100, "merged": 900}
    assert second == ["duplicate"] * 1000
    assert await store.counts_by_status() == {"new": 100, "claimed": 0, "disposed": 0}
    ids = await all_pages(store)
    assert sorted(ids) == sorted(clue_id(f"fp-{n}") for n in range(100))
    for n in (0, 42, 99):
        clue = await store.get(clue_id(f"fp-{n}"))
        assert clue is not None
        assert clue.warning_count == 10
        assert (clue.first_seen_ms, clue.last_seen_ms) == (T0 + n * 1000, T0 + (900 + n) * 1000)


async def test_merge_keeps_latest_evidence_by_event_time_and_only_raises_severity(
    store: ClueStore,
) -> None:
    results = await store.upsert_warnings(
        [
            make_warning("w1", ts_ms=T0, evidence=("evt-a",), value=3.0),
            make_warning("w2", ts_ms=T0 + 10 * MINUTE, severity="high", evidence=("evt-b",)),
            # arrives late: older than the newest, so it must not overwrite the evidence
            make_warning("w3", ts_ms=T0 + 5 * MINUTE, severity="low", evidence=("evt-c",)),
            make_warning("w0", ts_ms=T0 - MINUTE, evidence=("evt-z",)),
        ]
    )

    clue = await store.get(clue_id("fp-1"))
    assert results == ["new", "merged", "merged", "merged"]
    assert clue is not None
    assert clue.warning_count == 4
    assert (clue.first_seen_ms, clue.last_seen_ms) == (T0 - MINUTE, T0 + 10 * MINUTE)
    assert clue.evidence == ("evt-b",)
    assert clue.last_warning_id == "w2"
    assert clue.severity == "high"
    assert await store.warning_ids(clue.id) == ["w1", "w2", "w3", "w0"]


async def test_new_queue_lists_most_severe_first_then_oldest(store: ClueStore) -> None:
    await store.upsert_warnings(
        [
            make_warning("a", fingerprint="fp-a", ts_ms=T0),
            make_warning("b", fingerprint="fp-b", ts_ms=T0 + MINUTE, severity="critical"),
            make_warning("c", fingerprint="fp-c", ts_ms=T0 - MINUTE),
            make_warning("d", fingerprint="fp-d", ts_ms=T0 + 2 * MINUTE, severity="high"),
        ]
    )

    page, cursor = await store.list(status="new")

    assert [c.fingerprint for c in page] == ["fp-b", "fp-d", "fp-c", "fp-a"]
    assert cursor is None


async def test_list_filters_by_rule_and_status(store: ClueStore) -> None:
    await store.upsert_warnings(
        [
            make_warning("a", fingerprint="fp-a"),
            make_warning("b", fingerprint="fp-b", rule_id="staff.access_leak"),
            make_warning("c", fingerprint="fp-c", rule_id="staff.access_leak"),
        ]
    )
    await store.claim(clue_id("fp-c"), "alice", now_ms=T0)

    leak_all = await all_pages(store, rule_id="staff.access_leak")
    leak_new, _ = await store.list(status="new", rule_id="staff.access_leak")
    leak_claimed, _ = await store.list(status="claimed", rule_id="staff.access_leak")

    assert sorted(leak_all) == sorted([clue_id("fp-b"), clue_id("fp-c")])
    assert [c.id for c in leak_new] == [clue_id("fp-b")]
    assert [c.id for c in leak_claimed] == [clue_id("fp-c")]


async def test_pagination_with_equal_scores_visits_every_clue_once(store: ClueStore) -> None:
    # same severity and same first_seen: every score ties, the cursor must break ties
    await store.upsert_warnings(
        [make_warning(f"w{i}", fingerprint=f"fp-{i}", ts_ms=T0) for i in range(30)]
    )

    ids = await all_pages(store, status="new")

    assert sorted(ids) == sorted(clue_id(f"fp-{i}") for i in range(30))


async def test_a_cursor_not_from_the_store_is_refused(store: ClueStore) -> None:
    with pytest.raises(InvalidCursor, match="pass back the next_cursor"):
        await store.list(cursor="not-a-cursor!")


async def test_two_concurrent_claims_exactly_one_wins(store: ClueStore) -> None:
    await store.upsert_warnings([make_warning(f"w{i}", fingerprint=f"fp-{i}") for i in range(20)])
    ids = [clue_id(f"fp-{i}") for i in range(20)]

    outcomes = await asyncio.gather(
        *(store.claim(cid, actor, now_ms=T0) for cid in ids for actor in ("alice", "bob")),
        return_exceptions=True,
    )

    for cid, (a, b) in zip(ids, zip(outcomes[::2], outcomes[1::2], strict=True), strict=True):
        won = [o for o in (a, b) if not isinstance(o, BaseException)]
        lost = [o for o in (a, b) if isinstance(o, BaseException)]
        assert len(won) == 1 and isinstance(lost[0], IllegalTransition)
        assert "already claimed by" in str(lost[0])
        clue = await store.get(cid)
        assert clue is not None and clue.claimed_by == won[0].claimed_by
        assert [e.action for e in await store.audit(cid)] == ["open", "claim"]
    assert await store.counts_by_status() == {"new": 0, "claimed": 20, "disposed": 0}


async def test_dispose_by_someone_else_is_refused_and_changes_nothing(
    store: ClueStore, redis_client: aioredis.Redis, prefix: str
) -> None:
    cid = await open_and_claim(store, "alice")
    before = await store.get(cid)

    with pytest.raises(IllegalTransition, match="claimed by alice, not bob"):
        await store.dispose(cid, "bob", "dismissed", "false_positive", "not me", T0 + MINUTE)

    assert await store.get(cid) == before
    assert [e.action for e in await store.audit(cid)] == ["open", "claim"]
    assert await redis_client.xlen(f"{prefix}:outbox") == 0


async def test_dispose_of_an_unclaimed_clue_says_to_claim_first(store: ClueStore) -> None:
    await store.upsert_warnings([make_warning("w1")])

    with pytest.raises(IllegalTransition, match="it is new; claim it first"):
        await store.dispose(clue_id("fp-1"), "alice", "", "rectified", "", T0)


async def test_dispose_writes_the_disposition_to_the_outbox_with_the_transition(
    store: ClueStore, redis_client: aioredis.Redis, prefix: str
) -> None:
    cid = await open_and_claim(store, "alice")

    clue = await store.dispose(
        cid, "alice", "confirmed", "confirmed_violation", "licence revoked", T0 + 5 * MINUTE
    )

    assert (clue.status, clue.disposition_code, clue.outcome) == (
        "disposed",
        "confirmed_violation",
        "confirmed",
    )
    entries = await redis_client.xrange(f"{prefix}:outbox")
    assert len(entries) == 1
    fields = entries[0][1]
    assert (fields["kind"], fields["key"]) == ("disposition", cid)
    disposition = Disposition.from_json(fields["value"])
    assert disposition.clue_id == cid
    assert disposition.rule_id == "approval.overdue"
    assert disposition.key == "region=330106|applicant=ph-7f3a"
    assert (disposition.outcome, disposition.code) == ("confirmed", "confirmed_violation")
    assert (disposition.actor, disposition.ts_ms) == ("alice", T0 + 5 * MINUTE)
    assert disposition.warning_ids == ("w1", "w2")
    assert disposition.id.startswith("disp-")
    trail = await store.audit(cid)
    assert [(e.action, e.from_status, e.to_status, e.actor) for e in trail] == [
        ("open", "", "new", "system"),
        ("claim", "new", "claimed", "alice"),
        ("dispose", "claimed", "disposed", "alice"),
    ]
    assert trail[-1].reason == "confirmed_violation"
    assert await redis_client.xlen(f"{prefix}:audit") == 3
    assert await store.counts_by_status() == {"new": 0, "claimed": 0, "disposed": 1}


async def test_dispose_twice_is_refused_and_publishes_once(
    store: ClueStore, redis_client: aioredis.Redis, prefix: str
) -> None:
    cid = await open_and_claim(store, "alice")
    await store.dispose(cid, "alice", "", "duplicate", "", T0 + MINUTE)

    with pytest.raises(IllegalTransition, match="already disposed"):
        await store.dispose(cid, "alice", "", "rectified", "", T0 + 2 * MINUTE)

    assert await redis_client.xlen(f"{prefix}:outbox") == 1


async def test_disposition_code_must_be_known_and_match_the_outcome(store: ClueStore) -> None:
    cid = await open_and_claim(store, "alice")

    with pytest.raises(UnknownDispositionCode, match="false_positive"):
        await store.dispose(cid, "alice", "", "looks_fine", "", T0 + MINUTE)
    with pytest.raises(BadDisposition, match="means outcome 'dismissed'"):
        await store.dispose(cid, "alice", "confirmed", "false_positive", "", T0 + MINUTE)


async def test_reaper_returns_a_clue_whose_lease_ran_out(store: ClueStore) -> None:
    cid = await open_and_claim(store, "alice", now_ms=T0)  # lease 30 min
    lease_end = T0 + 30 * MINUTE

    assert await store.expire_leases(lease_end - 1) == []
    assert await store.expire_leases(lease_end) == [cid]

    clue = await store.get(cid)
    assert clue is not None
    assert (clue.status, clue.claimed_by, clue.lease_expires_ms) == ("new", None, None)
    new_ids = [c.id for c in (await store.list(status="new"))[0]]
    assert new_ids == [cid]
    last = (await store.audit(cid))[-1]
    assert (last.action, last.actor, last.reason) == ("expire", "system", "lease of alice expired")
    with pytest.raises(IllegalTransition, match="claim it first"):
        await store.dispose(cid, "alice", "", "rectified", "", lease_end + 1)


async def test_an_expired_claim_can_be_taken_over_but_a_live_one_cannot(
    store: ClueStore,
) -> None:
    cid = await open_and_claim(store, "alice", now_ms=T0)
    await store.upsert_warnings([make_warning("w3", ts_ms=T0 + 2 * MINUTE)])  # bumps version

    with pytest.raises(IllegalTransition, match="claimed by alice until 2026-03-02T01:45:00Z"):
        await store.claim(cid, "bob", lease_s=600, now_ms=T0 + 30 * MINUTE - 1)
    clue = await store.claim(cid, "bob", lease_s=600, now_ms=T0 + 30 * MINUTE)

    assert (clue.claimed_by, clue.lease_expires_ms) == ("bob", T0 + 40 * MINUTE)
    assert [e.action for e in await store.audit(cid)] == ["open", "claim", "expire", "claim"]
    with pytest.raises(IllegalTransition, match="claimed by bob, not alice"):
        await store.dispose(cid, "alice", "", "rectified", "", T0 + 31 * MINUTE)
    with pytest.raises(IllegalTransition, match="your claim expired at 2026-03-02T01:55:00Z"):
        await store.dispose(cid, "bob", "", "rectified", "", T0 + 40 * MINUTE)


async def test_warning_after_disposal_opens_a_new_generation_linked_to_the_old(
    store: ClueStore,
) -> None:
    old_id = await open_and_claim(store, "alice")
    await store.dispose(old_id, "alice", "", "rectified", "fixed", T0 + 5 * MINUTE)

    results = await store.upsert_warnings(
        [make_warning("w9", ts_ms=T0 + 60 * MINUTE), make_warning("w1")]  # w1: a replay
    )

    new_id = clue_id("fp-1", 1)
    assert results == ["new", "duplicate"]
    old, new = await store.get(old_id), await store.get(new_id)
    assert old is not None and new is not None
    assert (old.status, old.warning_count, old.next_clue_id) == ("disposed", 2, new_id)
    assert (new.status, new.generation, new.previous_clue_id) == ("new", 1, old_id)
    assert (new.warning_count, new.first_seen_ms) == (1, T0 + 60 * MINUTE)
    assert await store.counts_by_status() == {"new": 1, "claimed": 0, "disposed": 1}


async def test_unknown_clue_is_reported_as_not_found(store: ClueStore) -> None:
    assert await store.get("clue-nope") is None
    with pytest.raises(ClueNotFound, match="no clue with id 'clue-nope'"):
        await store.claim("clue-nope", "alice", now_ms=T0)
    with pytest.raises(ClueNotFound):
        await store.dispose("clue-nope", "alice", "", "rectified", "", T0)


async def test_text_and_numbers_survive_the_round_trip_exactly(store: ClueStore) -> None:
    await store.upsert_warnings(
        [
            make_warning(
                "w1",
                title="企业 91330106MA2B 30天内被投诉 12 次",
                value=0.1234567890123456,
                window_start_ms=1_772_327_700_123,
                window_end_ms=1_772_414_100_123,
                evidence=("evt-α", 'quote " and \\ backslash'),
                tags=("投诉", "hotline"),
            )
        ]
    )

    clue = await store.get(clue_id("fp-1"))

    assert clue is not None
    assert clue.title == "企业 91330106MA2B 30天内被投诉 12 次"
    assert clue.value == 0.1234567890123456
    assert clue.evidence == ("evt-α", 'quote " and \\ backslash')
    assert clue.tags == ("投诉", "hotline")
    raw = await store.redis.hmget(  # type: ignore[misc]
        store.keys.clue(clue.id), ["window_start_ms", "window_end_ms"]
    )
    assert raw == ["1772327700123", "1772414100123"]


async def test_store_works_on_a_client_without_decoded_responses(
    redis_url: str, prefix: str, redis_client: aioredis.Redis
) -> None:
    raw_client = aioredis.from_url(redis_url)  # bytes replies, as a worker may configure it
    try:
        store = ClueStore(raw_client, prefix)
        assert await store.upsert_warnings([make_warning("w1"), make_warning("w2")]) == [
            "new",
            "merged",
        ]
        cid = clue_id("fp-1")
        await store.claim(cid, "alice", now_ms=T0)
        clue = await store.dispose(cid, "alice", "", "rectified", "", T0 + MINUTE)
        page, _ = await store.list(status="disposed")
        trail = await store.audit(cid)
    finally:
        await raw_client.aclose()

    assert clue.status == "disposed" and [c.id for c in page] == [cid]
    assert [e.action for e in trail] == ["open", "claim", "dispose"]
