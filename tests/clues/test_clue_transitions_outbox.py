"""Every step of a clue lands in the outbox as a ClueTransition, in the step's own Lua call.

Against a real Redis: what each step writes (before/after state, actor, role, reason, event
or queue time, deterministic id), that system steps are published too, that the audited read
of identities and refused steps publish nothing, and that the published steps are exactly
the audit trail.
"""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from clue_factories import ALICE, CENTRE, LEAD, T0, make_warning

from clues.model import IllegalTransition, clue_id
from clues.store import ClueStore
from envelope.events import ClueTransition, Disposition, stable_id, transition_id

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

MINUTE = 60_000
CID = clue_id("fp-1")


async def outbox(redis_client: aioredis.Redis, prefix: str) -> list[dict[str, str]]:
    return [f for _, f in await redis_client.xrange(f"{prefix}:outbox")]


async def steps(redis_client: aioredis.Redis, prefix: str) -> list[ClueTransition]:
    """The transitions in the outbox, oldest first; each entry is keyed by its clue."""
    out = []
    for f in await outbox(redis_client, prefix):
        if f["kind"] == "transition":
            t = ClueTransition.from_json(f["value"])
            assert f["key"] == t.clue_id
            out.append(t)
    return out


def row(t: ClueTransition) -> tuple[str, str, str, str, str, int, int]:
    return (t.action, t.from_status, t.to_status, t.actor, t.role, t.ts_ms, t.version)


async def test_dispatch_claim_return_and_dispose_each_publish_their_step(
    store: ClueStore, redis_client: aioredis.Redis, prefix: str
) -> None:
    await store.upsert_warnings([make_warning("w1")])
    dispatched = await store.transition(CID, "dispatch", CENTRE, T0 + MINUTE)
    await store.transition(CID, "claim", ALICE, T0 + 2 * MINUTE)
    returned_args = {"reason_code": "wrong_region", "note": "not ours"}
    await store.transition(CID, "return", ALICE, T0 + 3 * MINUTE, returned_args)
    await store.transition(CID, "dispatch", CENTRE, T0 + 4 * MINUTE)
    await store.transition(CID, "claim", ALICE, T0 + 5 * MINUTE)
    verdict = {"code": "false_positive", "sub_reason": "data_quality"}
    await store.transition(CID, "dispose", ALICE, T0 + 6 * MINUTE, verdict)

    got = await steps(redis_client, prefix)

    assert [row(t) for t in got] == [
        ("open", "", "new", "system", "system", T0, 1),
        ("dispatch", "new", "dispatched", "sam", "supervisor", T0 + MINUTE, 2),
        ("claim", "dispatched", "claimed", "alice", "inspector", T0 + 2 * MINUTE, 3),
        ("return", "claimed", "returned", "alice", "inspector", T0 + 3 * MINUTE, 4),
        ("dispatch", "returned", "dispatched", "sam", "supervisor", T0 + 4 * MINUTE, 5),
        ("claim", "dispatched", "claimed", "alice", "inspector", T0 + 5 * MINUTE, 6),
        ("dispose", "claimed", "disposed", "alice", "inspector", T0 + 6 * MINUTE, 7),
    ]
    assert [t.id for t in got] == [f"{CID}@v{n}" for n in range(1, 8)]
    assert {t.rule_id for t in got} == {"approval.overdue"}
    opened, dispatch, claim, ret, _, _, dispose = got
    assert (opened.reason, opened.before["status"], opened.after["status"]) == (
        "warning w1",
        "",
        "new",
    )
    assert dispatch.after["due_ms"] == str(dispatched.due_ms) and dispatch.before["due_ms"] == ""
    assert (dispatch.after["colour"], dispatch.reason) == ("green", "to market-supervision")
    assert (claim.before["claimed_by"], claim.after["claimed_by"]) == ("", "alice")
    assert ret.reason == "wrong_region: not ours"
    assert ret.before == {"status": "claimed", "claimed_by": "alice", "return_count": ""}
    assert ret.after == {"status": "returned", "claimed_by": "", "return_count": "1"}
    assert dispose.reason == "false_positive/data_quality"
    assert (dispose.before["disposition_code"], dispose.after["disposition_code"]) == (
        "",
        "false_positive",
    )
    assert (dispose.after["sub_reason"], dispose.after["outcome"]) == (
        "data_quality",
        "dismissed",
    )


async def test_a_verdict_is_published_with_its_step_and_names_the_steps_version(
    store: ClueStore, redis_client: aioredis.Redis, prefix: str
) -> None:
    await store.upsert_warnings([make_warning("w1")])
    await store.transition(CID, "dispatch", CENTRE, T0)
    await store.transition(CID, "claim", ALICE, T0 + 1)
    await store.transition(CID, "dispose", ALICE, T0 + 2, {"code": "duplicate"})

    entries = await outbox(redis_client, prefix)

    assert [(f["kind"], f["key"]) for f in entries[-2:]] == [
        ("disposition", CID),
        ("transition", CID),
    ]
    d = Disposition.from_json(entries[-2]["value"])
    t = ClueTransition.from_json(entries[-1]["value"])
    assert (t.action, t.version, t.id) == ("dispose", 4, transition_id(CID, 4))
    assert d.id == stable_id(CID, t.version, prefix="disp-")
    assert (d.code, d.outcome, d.ts_ms) == ("duplicate", "dismissed", t.ts_ms)


async def test_system_steps_are_published_too(
    store: ClueStore, redis_client: aioredis.Redis, prefix: str
) -> None:
    await store.upsert_warnings([make_warning("w1"), make_warning("w9", "fp-9")])
    await store.transition(CID, "dispatch", CENTRE, T0)
    await store.transition(CID, "claim", ALICE, T0, {"lease_s": 600})
    await store.expire_leases(T0 + 10 * MINUTE)
    await store.upsert_warnings([make_warning("w2", ts_ms=T0 + MINUTE, severity="critical")])
    await store.transition(clue_id("fp-9"), "merge", CENTRE, T0 + 11 * MINUTE, {"into": CID})

    got = [(t.clue_id, t.action, t.actor, t.reason) for t in await steps(redis_client, prefix)]

    assert got[-4:] == [
        (CID, "expire", "system", "lease of alice expired"),
        (CID, "raise_priority", "system", "warning w2: critical"),
        (CID, "absorb", "sam", f"absorbed {clue_id('fp-9')}"),
        (clue_id("fp-9"), "merge", "sam", f"into {CID}"),
    ]
    raised = (await steps(redis_client, prefix))[-3]
    assert (raised.from_status, raised.to_status) == ("dispatched", "dispatched")
    assert (raised.before["priority"], raised.after["priority"]) == ("2", "4")


async def test_refused_steps_and_identity_reads_publish_nothing(
    store: ClueStore, redis_client: aioredis.Redis, prefix: str
) -> None:
    await store.upsert_warnings([make_warning("w1")])
    await store.transition(CID, "dispatch", CENTRE, T0)
    await store.transition(CID, "claim", ALICE, T0)
    before = await outbox(redis_client, prefix)

    await store.reveal(CID, LEAD, T0 + 1)  # audited, but a read: the version stays
    with pytest.raises(IllegalTransition, match="already claimed"):
        await store.transition(CID, "claim", LEAD, T0 + 2)

    assert await outbox(redis_client, prefix) == before
    assert [e.action for e in await store.audit(CID)][-1] == "reveal"


async def test_the_published_steps_are_the_audit_trail_and_replay_to_the_clue(
    store: ClueStore, redis_client: aioredis.Redis, prefix: str
) -> None:
    await store.upsert_warnings([make_warning("w1")])
    await store.transition(CID, "dispatch", CENTRE, T0)
    await store.transition(CID, "claim", ALICE, T0 + 1)
    await store.transition(CID, "comment", ALICE, T0 + 2, {"text": "visiting friday"})
    await store.transition(CID, "label", ALICE, T0 + 3, {"add": ["food"]})
    await store.transition(CID, "suspend", ALICE, T0 + 4, {"reason_code": "awaiting_test"})
    await store.transition(CID, "resume", ALICE, T0 + 5)
    await store.transition(CID, "escalate", ALICE, T0 + 6, {"case_ref": "CASE-7"})
    clue = await store.transition(CID, "dispose", ALICE, T0 + 7, {"code": "not_applicable"})

    published = await steps(redis_client, prefix)
    audited = await store.audit(CID)

    assert [
        (t.action, t.from_status, t.to_status, t.actor, t.role, t.ts_ms, t.reason, t.version)
        for t in published
    ] == [
        (e.action, e.from_status, e.to_status, e.actor, e.role, e.ts_ms, e.reason, e.version)
        for e in audited
    ]
    assert [(t.before, t.after) for t in published] == [(e.before, e.after) for e in audited]
    assert published[3].reason == "visiting friday"
    assert published[-1].version == clue.version
    state: dict[str, str] = {}
    for t in published:
        assert all(state.get(k, "") == v for k, v in t.before.items()), t.action
        state.update(t.after)
    assert (state["status"], state["labels"], state["case_ref"]) == (
        "disposed",
        '["food"]',
        "CASE-7",
    )
