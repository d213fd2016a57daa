"""ClueStore against a real Redis: ingest, the whole verification flow, guards, leases."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
import redis.asyncio as aioredis
from clue_factories import (
    ALICE,
    BOB,
    CENTRE,
    EVIDENCE,
    LEAD,
    OUTSIDER,
    T0,
    dispose_clue,
    make_warning,
)

from clues.access import Principal
from clues.model import (
    BadDisposition,
    ClueNotFound,
    Conflict,
    Forbidden,
    IllegalTransition,
    clue_id,
)
from clues.store import ClueStore, InvalidCursor
from clues.workdays import ms_of
from envelope.events import Disposition

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR
AWAITING_TEST = {"reason_code": "awaiting_test"}


async def all_pages(store: ClueStore, **filters: object) -> list[str]:
    ids: list[str] = []
    cursor = None
    while True:
        page, cursor = await store.list(limit=7, cursor=cursor, **filters)  # type: ignore[arg-type]
        ids += [c.id for c in page]
        if cursor is None:
            return ids


async def one_clue(store: ClueStore) -> str:
    """A clue opened by a warning, a second merged into it a minute later."""
    await store.upsert_warnings([make_warning("w1")])
    await store.upsert_warnings([make_warning("w2", ts_ms=T0 + MINUTE)])
    return clue_id("fp-1")


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
    assert (await store.counts_by_status())["new"] == 100
    ids = await all_pages(store)
    assert sorted(ids) == sorted(clue_id(f"fp-{n}") for n in range(100))
    for n in (0, 42, 99):
        clue = await store.get(clue_id(f"fp-{n}"))
        assert clue is not None
        assert clue.warning_count == 10
        assert (clue.first_seen_ms, clue.last_seen_ms) == (T0 + n * 1000, T0 + (900 + n) * 1000)


async def test_two_ingest_workers_at_once_still_make_one_clue_per_fingerprint(
    store: ClueStore,
) -> None:
    warnings = [make_warning(f"w{i}", fingerprint=f"fp-{i % 100}") for i in range(1000)]

    a, b = await asyncio.gather(store.upsert_warnings(warnings), store.upsert_warnings(warnings))

    assert Counter(a) + Counter(b) == {"new": 100, "merged": 900, "duplicate": 1000}
    counts = [(await store.get(clue_id(f"fp-{n}"))).warning_count for n in range(100)]  # type: ignore[union-attr]
    assert counts == [10] * 100


async def test_merge_keeps_latest_evidence_by_event_time_and_only_raises_priority(
    store: ClueStore,
) -> None:
    warnings = [
        make_warning("w1", ts_ms=T0, evidence=("evt-a",)),
        make_warning("w2", ts_ms=T0 + 10 * MINUTE, severity="high", evidence=("evt-b",)),
        make_warning("w3", ts_ms=T0 + 5 * MINUTE, severity="low", evidence=("evt-c",)),
    ]
    results = [r for w in warnings for r in await store.upsert_warnings([w])]

    clue = await store.get(clue_id("fp-1"))
    assert results == ["new", "merged", "merged"]
    assert clue is not None
    assert (clue.warning_count, clue.evidence, clue.severity, clue.priority) == (
        3,
        ("evt-b",),
        "high",
        3,
    )
    trail = [(e.action, e.version, e.after) for e in await store.audit(clue.id)]
    later = str(T0 + 10 * MINUTE)
    assert trail[1:] == [
        ("raise_priority", 2, {"priority": "3", "warning_count": "2", "last_seen_ms": later}),
        ("merge_warning", 3, {"warning_count": "3"}),  # older by event time: evidence kept
    ]


async def test_the_same_warnings_in_one_batch_make_the_same_clue_in_one_step(
    store: ClueStore,
) -> None:
    results = await store.upsert_warnings(
        [
            make_warning("w1", ts_ms=T0, evidence=("evt-a",)),
            make_warning("w2", ts_ms=T0 + 10 * MINUTE, severity="high", evidence=("evt-b",)),
            make_warning("w3", ts_ms=T0 + 5 * MINUTE, severity="low", evidence=("evt-c",)),
        ]
    )

    clue = await store.get(clue_id("fp-1"))
    assert results == ["new", "merged", "merged"]
    assert clue is not None
    assert (clue.warning_count, clue.evidence, clue.severity, clue.priority) == (
        3,
        ("evt-b",),
        "high",
        3,
    )
    assert [(e.action, e.version, e.reason) for e in await store.audit(clue.id)] == [
        ("open", 1, "3 warnings w1, w2, w3")
    ]


async def test_the_whole_flow_from_warning_to_closed_is_audited_step_by_step(
    store: ClueStore, redis_client: aioredis.Redis, prefix: str
) -> None:
    cid = await one_clue(store)

    await store.transition(cid, "dispatch", CENTRE, T0 + MINUTE, {"note": "food licence"})
    await store.transition(cid, "claim", ALICE, T0 + 2 * MINUTE)
    await store.transition(cid, "comment", ALICE, T0 + 3 * MINUTE, {"text": "visiting friday"})
    await store.transition(cid, "escalate", ALICE, T0 + 4 * MINUTE, {"case_ref": "CASE-7"})
    args = {"code": "confirmed_violation", "evidence_refs": EVIDENCE, "note": "fined"}
    await store.transition(cid, "dispose", ALICE, T0 + 5 * MINUTE, args)
    await store.transition(cid, "submit", ALICE, T0 + 6 * MINUTE)
    closed = await store.transition(cid, "approve", CENTRE, T0 + 7 * MINUTE)

    assert (closed.status, closed.case_ref, closed.closed_by) == ("closed", "CASE-7", "sam")
    assert closed.evidence_refs == (
        {"uri": "https://files.example/site/photo-1.jpg", "name": "photo"},
    )
    trail = await store.audit(cid)
    assert [(e.action, e.from_status, e.to_status, e.actor) for e in trail] == [
        ("open", "", "new", "system"),
        ("merge_warning", "new", "new", "system"),  # w2, a minute later
        ("dispatch", "new", "dispatched", "sam"),
        ("claim", "dispatched", "claimed", "alice"),
        ("comment", "claimed", "claimed", "alice"),
        ("escalate", "claimed", "investigating", "alice"),
        ("dispose", "investigating", "disposed", "alice"),
        ("submit", "disposed", "reviewing", "alice"),
        ("approve", "reviewing", "closed", "sam"),
    ]
    assert trail[1].reason == "warning w2" and trail[1].after == {
        "warning_count": "2",
        "last_seen_ms": str(T0 + MINUTE),
    }
    assert trail[4].reason == "visiting friday"
    assert trail[6].before["status"] == "investigating"
    assert trail[6].after["disposition_code"] == "confirmed_violation"
    outbox = [f for _, f in await redis_client.xrange(f"{prefix}:outbox")]
    assert [f["kind"] for f in outbox].count("transition") == len(trail)  # every step, too
    (entry,) = [f for f in outbox if f["kind"] == "disposition"]
    d = Disposition.from_json(entry["value"])
    assert (d.clue_id, d.outcome, d.code, d.actor, d.warning_ids) == (
        cid,
        "confirmed",
        "confirmed_violation",
        "alice",
        ("w1", "w2"),
    )
    stats, backlog, dispositions = await store.stats()
    assert dispositions == {"approval.overdue|confirmed_violation": 1}
    assert (stats["sign|on_time"], stats["dispose|on_time"]) == (1, 1)
    assert {k: v for k, v in backlog.items() if v} == {"closed|": 1}


async def test_confirmed_outcomes_need_evidence_and_false_positive_a_sub_reason(
    store: ClueStore,
) -> None:
    cid = await one_clue(store)
    await store.transition(cid, "dispatch", CENTRE, T0)
    await store.transition(cid, "claim", ALICE, T0)

    with pytest.raises(BadDisposition, match="needs at least one evidence reference"):
        await store.transition(cid, "dispose", ALICE, T0, {"code": "rectified"})
    with pytest.raises(BadDisposition, match="sub_reason '' is not valid; use one of data"):
        await store.transition(cid, "dispose", ALICE, T0, {"code": "false_positive"})
    with pytest.raises(BadDisposition, match="code 'closed' is not valid"):
        await store.transition(cid, "dispose", ALICE, T0, {"code": "closed"})

    assert (await store.get(cid)).status == "claimed"  # type: ignore[union-attr]


async def test_roles_scope_and_holder_are_enforced_and_refusals_change_nothing(
    store: ClueStore, redis_client: aioredis.Redis, prefix: str
) -> None:
    cid = await one_clue(store)
    with pytest.raises(Forbidden, match="a inspector may not dispatch"):
        await store.transition(cid, "dispatch", ALICE, T0)
    await store.transition(cid, "dispatch", CENTRE, T0)
    with pytest.raises(Forbidden, match="outside olga's departments"):
        await store.transition(cid, "claim", OUTSIDER, T0)
    await store.transition(cid, "claim", ALICE, T0)
    before = await store.get(cid)
    published = await redis_client.xrange(f"{prefix}:outbox")

    with pytest.raises(IllegalTransition, match="it is already claimed by alice"):
        await store.transition(cid, "claim", BOB, T0 + 1)
    with pytest.raises(IllegalTransition, match="claimed by alice, not bob"):
        await store.transition(cid, "dispose", BOB, T0 + 1, {"code": "duplicate"})
    with pytest.raises(Forbidden, match="a supervisor may not dispose"):
        await store.transition(cid, "dispose", CENTRE, T0 + 1, {"code": "duplicate"})

    assert await store.get(cid) == before
    steps = ["open", "merge_warning", "dispatch", "claim"]
    assert [e.action for e in await store.audit(cid)] == steps
    assert [f["kind"] for _, f in published] == ["transition"] * 4  # those steps only
    assert await redis_client.xrange(f"{prefix}:outbox") == published  # refusals: nothing


async def test_a_lead_can_release_an_inspectors_claim(store: ClueStore) -> None:
    cid = await one_clue(store)
    await store.transition(cid, "dispatch", CENTRE, T0)
    await store.transition(cid, "claim", ALICE, T0)

    clue = await store.transition(cid, "release", LEAD, T0 + 1, {"note": "alice is ill"})

    assert (clue.status, clue.claimed_by) == ("dispatched", None)


async def test_expected_version_guards_against_lost_updates(store: ClueStore) -> None:
    cid = await one_clue(store)
    seen = await store.get(cid)
    await store.upsert_warnings([make_warning("w3", ts_ms=T0 + 2 * MINUTE)])  # bumps version

    with pytest.raises(Conflict, match="changed \\(now version 3\\)"):
        await store.transition(cid, "dispatch", CENTRE, T0, expected_version=seen.version)  # type: ignore[union-attr]
    clue = await store.transition(cid, "dispatch", CENTRE, T0)  # no If-Match: retried

    assert clue.status == "dispatched"


async def test_two_concurrent_claims_exactly_one_wins(store: ClueStore) -> None:
    await store.upsert_warnings([make_warning(f"w{i}", fingerprint=f"fp-{i}") for i in range(20)])
    ids = [clue_id(f"fp-{i}") for i in range(20)]
    for cid in ids:
        await store.transition(cid, "dispatch", CENTRE, T0)

    outcomes = await asyncio.gather(
        *(store.transition(cid, "claim", who, T0 + 1) for cid in ids for who in (ALICE, BOB)),
        return_exceptions=True,
    )

    for cid, pair in zip(ids, zip(outcomes[::2], outcomes[1::2], strict=True), strict=True):
        won = [o for o in pair if not isinstance(o, BaseException)]
        lost = [o for o in pair if isinstance(o, BaseException)]
        assert len(won) == 1 and isinstance(lost[0], IllegalTransition), pair
        clue = await store.get(cid)
        assert clue is not None and clue.claimed_by == won[0].claimed_by  # type: ignore[union-attr]
        assert [e.action for e in await store.audit(cid)] == ["open", "dispatch", "claim"]
    assert (await store.counts_by_status())["claimed"] == 20


async def test_leases_renew_on_action_and_expire_back_to_the_department_queue(
    store: ClueStore,
) -> None:
    cid = await one_clue(store)
    dispatched = await store.transition(cid, "dispatch", CENTRE, T0)
    await store.transition(cid, "claim", ALICE, T0, {"lease_s": 600})
    renewed = await store.transition(cid, "comment", ALICE, T0 + 5 * MINUTE, {"text": "on it"})
    assert renewed.lease_expires_ms == T0 + 15 * MINUTE

    assert await store.expire_leases(T0 + 15 * MINUTE - 1) == []
    assert await store.expire_leases(T0 + 15 * MINUTE) == [cid]

    clue = await store.get(cid)
    assert clue is not None
    assert (clue.status, clue.claimed_by, clue.lease_expired_count) == ("dispatched", None, 1)
    assert clue.due_ms == dispatched.due_ms  # the deadline never resets with a lease
    assert [c.id for c in (await store.list(status="dispatched"))[0]] == [cid]
    with pytest.raises(IllegalTransition, match="claim it first"):
        await store.transition(cid, "dispose", ALICE, T0 + HOUR, {"code": "duplicate"})


async def test_an_expired_claim_is_taken_over_in_one_step(store: ClueStore) -> None:
    cid = await one_clue(store)
    await store.transition(cid, "dispatch", CENTRE, T0)
    await store.transition(cid, "claim", ALICE, T0, {"lease_s": 600})

    clue = await store.transition(cid, "claim", BOB, T0 + 10 * MINUTE)

    assert clue.claimed_by == "bob"
    assert [e.action for e in await store.audit(cid)][-2:] == ["expire", "claim"]
    with pytest.raises(IllegalTransition, match="claimed by bob, not alice"):
        await store.transition(cid, "suspend", ALICE, T0 + 11 * MINUTE, AWAITING_TEST)


async def test_returns_go_to_arbitration_whose_decision_binds(store: ClueStore) -> None:
    cid = await one_clue(store)
    await store.transition(cid, "dispatch", CENTRE, T0)
    first = await store.transition(cid, "return", ALICE, T0 + 1, {"reason_code": "wrong_region"})
    await store.transition(cid, "dispatch", CENTRE, T0 + 2)
    second = await store.transition(cid, "return", ALICE, T0 + 3, {"reason_code": "wrong_function"})
    with pytest.raises(IllegalTransition, match="allowed from: new, returned"):
        await store.transition(cid, "dispatch", CENTRE, T0 + 4)
    bound = await store.transition(
        cid, "arbitrate", CENTRE, T0 + 5, {"department": "market-supervision"}
    )

    assert (first.status, second.status, second.return_count) == ("returned", "arbitration", 2)
    assert (bound.status, bound.arbitrated) == ("dispatched", 1)
    assert bound.due_ms == first.due_ms  # the clue's deadline runs on through returns
    with pytest.raises(IllegalTransition, match="arbitration binds"):
        await store.transition(cid, "return", ALICE, T0 + 6, {"reason_code": "duplicate"})
    stats, _, _ = await store.stats()
    assert (stats["returns|wrong_region"], stats["returns|wrong_function"]) == (1, 1)


async def test_suspension_pauses_the_deadline_and_is_counted_apart(store: ClueStore) -> None:
    cid = await one_clue(store)
    due = (await store.transition(cid, "dispatch", CENTRE, T0)).due_ms
    await store.transition(cid, "claim", ALICE, T0)
    paused = await store.transition(cid, "suspend", ALICE, T0 + MINUTE, AWAITING_TEST)
    resumed = await store.transition(cid, "resume", ALICE, T0 + MINUTE + 3 * DAY)

    assert (paused.status, paused.lease_expires_ms, paused.suspend_reason) == (
        "suspended",
        None,
        "awaiting_test",
    )
    assert resumed.status == "claimed" and resumed.lease_expires_ms is not None
    assert (resumed.due_ms, resumed.paused_ms) == (due + 3 * DAY, 3 * DAY)  # type: ignore[operator]
    assert resumed.original_due_ms == due
    stats, _, _ = await store.stats()
    assert (stats["paused_ms"], stats["suspensions|awaiting_test"]) == (3 * DAY, 1)


async def test_extension_is_requested_before_the_deadline_and_approved_by_a_lead(
    store: ClueStore,
) -> None:
    cid = await one_clue(store)  # medium, market-supervision: 15 working days
    due = (await store.transition(cid, "dispatch", CENTRE, T0)).due_ms
    await store.transition(cid, "claim", ALICE, T0, {"lease_s": 7 * 24 * 3600})
    asked = {"days": 5, "reason": "waiting for the lab"}
    await store.transition(cid, "request_extension", ALICE, T0 + DAY, asked)
    with pytest.raises(IllegalTransition, match="already waiting for a decision"):
        await store.transition(cid, "request_extension", ALICE, T0 + DAY, asked)
    with pytest.raises(Forbidden, match="a inspector may not decide extension"):
        await store.transition(cid, "decide_extension", BOB, T0 + DAY, {"decision": "approve"})
    yes = {"decision": "approve"}
    approved = await store.transition(cid, "decide_extension", LEAD, T0 + 2 * DAY, yes)

    assert approved.due_ms == ms_of(2026, 3, 31) - 1  # 03-23 + 5 working days: end of 03-30
    assert approved.due_ms > due and approved.extension_count == 1  # type: ignore[operator]
    with pytest.raises(IllegalTransition, match="at most 1 per clue"):
        await store.transition(cid, "request_extension", ALICE, T0 + 3 * DAY, asked)


async def test_review_sends_work_back_counting_rework_and_never_self_approves(
    store: ClueStore,
) -> None:
    cid = await one_clue(store)
    await dispose_clue(store, cid, "false_positive")
    await store.transition(cid, "submit", ALICE, T0 + 10)
    with pytest.raises(IllegalTransition, match="must not be the inspector who disposed"):
        await store.transition(cid, "approve", Principal("alice", "admin"), T0 + 11)
    back = await store.transition(cid, "reject", CENTRE, T0 + 12, {"reason": "call the applicant"})

    assert (back.status, back.claimed_by, back.rework_count, back.disposition_code) == (
        "claimed",
        "alice",
        1,
        None,
    )
    assert back.lease_expires_ms is not None
    stats, _, _ = await store.stats()
    assert stats["rework"] == 1


async def test_a_closed_clue_is_never_reopened_a_repeat_opens_a_linked_clue_ranked_higher(
    store: ClueStore,
) -> None:
    cid = await one_clue(store)
    await dispose_clue(store, cid, "rectified")
    await store.transition(cid, "submit", ALICE, T0 + 10)
    await store.transition(cid, "approve", CENTRE, T0 + 20)

    results = await store.upsert_warnings(
        [make_warning("w9", ts_ms=T0 + 30 * DAY), make_warning("w1")]  # w1: a replay
    )

    new_id = clue_id("fp-1", 1)
    old, new = await store.get(cid), await store.get(new_id)
    assert results == ["new", "duplicate"]
    assert old is not None and new is not None
    assert (old.status, old.warning_count, old.next_clue_id) == ("closed", 2, new_id)
    assert (new.status, new.previous_clue_id, new.repeat_of) == ("new", cid, cid)
    assert new.priority == old.priority + 1


async def test_merge_moves_the_count_and_future_warnings_to_the_target(store: ClueStore) -> None:
    await store.upsert_warnings([make_warning("a", "fp-a"), make_warning("b", "fp-b")])
    src, dst = clue_id("fp-a"), clue_id("fp-b")

    merged = await store.transition(src, "merge", CENTRE, T0, {"into": dst})
    later = await store.upsert_warnings([make_warning("a2", "fp-a", ts_ms=T0 + MINUTE)])

    target = await store.get(dst)
    assert (merged.status, merged.merged_into) == ("merged", dst)
    assert later == ["merged"]
    assert target is not None and (target.warning_count, target.merged_from) == (3, (src,))
    assert [e.action for e in await store.audit(dst)][-2:] == ["absorb", "merge_warning"]
    with pytest.raises(IllegalTransition, match="cannot be merged into itself"):
        await store.transition(dst, "merge", CENTRE, T0, {"into": dst})


async def test_list_filters_sorts_and_scopes(store: ClueStore) -> None:
    await store.upsert_warnings(
        [
            make_warning("a", "fp-a", ts_ms=T0),
            make_warning("b", "fp-b", ts_ms=T0 + 1, severity="critical"),
            make_warning("c", "fp-c", ts_ms=T0 + 2, department="housing"),
            make_warning("d", "fp-d", ts_ms=T0 + 3, region="330206", rule_id="hotline.surge"),
        ]
    )
    for fp in ("fp-a", "fp-b", "fp-c", "fp-d"):
        await store.transition(clue_id(fp), "dispatch", CENTRE, T0)
    await store.transition(clue_id("fp-a"), "claim", ALICE, T0 + 10)
    from clues.listing import ListQuery

    async def ids(q: ListQuery, who=None) -> list[str]:  # type: ignore[no-untyped-def]
        page, _ = await store.list(query=q, who=who, limit=50)
        return [c.fingerprint for c in page]

    assert await ids(ListQuery(sort="newest")) == ["fp-d", "fp-c", "fp-b", "fp-a"]
    assert await ids(ListQuery(sort="oldest")) == ["fp-a", "fp-b", "fp-c", "fp-d"]
    queue = await ids(ListQuery(status=("dispatched",)))
    assert queue[0] == "fp-b" and sorted(queue[1:]) == ["fp-c", "fp-d"]  # critical first
    assert await ids(ListQuery(), ALICE) == ["fp-b", "fp-a"]  # her department and region only
    assert await ids(ListQuery(assignee="alice")) == ["fp-a"]
    assert await ids(ListQuery(rule_id="hotline.surge")) == ["fp-d"]
    assert await ids(ListQuery(department="housing")) == ["fp-c"]
    assert await ids(ListQuery(department="housing"), ALICE) == []
    assert await ids(ListQuery(region="3302")) == ["fp-d"]
    green = await ids(ListQuery(colour="green", sort="due"))  # critical: 5 working days
    assert green[0] == "fp-b" and sorted(green[1:]) == ["fp-a", "fp-c", "fp-d"]


async def test_pagination_with_equal_scores_visits_every_clue_once(store: ClueStore) -> None:
    await store.upsert_warnings(
        [make_warning(f"w{i}", fingerprint=f"fp-{i}", ts_ms=T0) for i in range(30)]
    )

    ids = await all_pages(store, status="new")

    assert sorted(ids) == sorted(clue_id(f"fp-{i}") for i in range(30))


async def test_a_cursor_not_from_the_store_is_refused(store: ClueStore) -> None:
    with pytest.raises(InvalidCursor, match="pass back the next_cursor"):
        await store.list(cursor="not-a-cursor!")


async def test_unknown_clue_is_reported_as_not_found(store: ClueStore) -> None:
    assert await store.get("clue-nope") is None
    with pytest.raises(ClueNotFound, match="no clue with id 'clue-nope'"):
        await store.transition("clue-nope", "claim", ALICE, T0)


async def test_text_and_numbers_survive_the_round_trip_exactly(store: ClueStore) -> None:
    await store.upsert_warnings(
        [
            make_warning(
                "w1",
                title="企业 91330106MA2B 30天内被投诉 12 次",
                value=0.1234567890123456,
                window_start_ms=1_772_327_700_123,
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


async def test_store_works_on_a_client_without_decoded_responses(
    redis_url: str, prefix: str, redis_client: aioredis.Redis
) -> None:
    raw_client = aioredis.from_url(redis_url)  # bytes replies, as the worker configures it
    try:
        store = ClueStore(raw_client, prefix)
        assert await store.upsert_warnings([make_warning("w1"), make_warning("w2")]) == [
            "new",
            "merged",
        ]
        cid = clue_id("fp-1")
        clue = await dispose_clue(store, cid, "rectified")
        page, _ = await store.list(status="disposed")
        trail = await store.audit(cid)
    finally:
        await raw_client.aclose()

    assert clue.status == "disposed" and [c.id for c in page] == [cid]
    assert [e.action for e in trail] == ["open", "dispatch", "claim", "dispose"]
    assert trail[0].reason == "2 warnings w1, w2"
