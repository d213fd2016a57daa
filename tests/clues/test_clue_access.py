"""Every clue endpoint called with a token of the wrong department or the wrong role is
refused with 403, and nothing about the clue changes (state, version, audit, outbox)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from clue_factories import ALICE, CENTRE, EVIDENCE, T0, make_warning

from clues.access import Principal
from clues.api import create_app
from clues.model import ROLES, TRANSITIONS, clue_id
from clues.routes import ACTIONS
from clues.store import ClueStore
from clues.tokens import TokenStore
from envelope.settings import Settings

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

NOW = T0 + 60_000
# A body each action would accept, so a refusal can only come from the access check.
BODIES: dict[str, dict[str, Any]] = {
    "dispatch": {},
    "return": {"reason_code": "wrong_region"},
    "arbitrate": {"department": "market-supervision"},
    "claim": {},
    "release": {},
    "escalate": {"case_ref": "C-1"},
    "suspend": {"reason_code": "awaiting_test"},
    "resume": {},
    "request_extension": {"days": 2, "reason": "lab"},
    "decide_extension": {"decision": "approve"},
    "dispose": {"code": "rectified", "evidence_refs": EVIDENCE},
    "submit": {},
    "approve": {},
    "reject": {"reason": "redo"},
    "dismiss": {"code": "duplicate"},
    "merge": {"into": clue_id("fp-other")},
    "comment": {"text": "hello"},
    "label": {"add": ["x"]},
    "evidence": {"evidence_refs": EVIDENCE},
}
CASES = [
    pytest.param(path, action, role, id=f"{action}-{role}")
    for path, action, *_ in ACTIONS
    for role in ROLES
]


@pytest.fixture
async def client(
    redis_client: aioredis.Redis, prefix: str, store: ClueStore
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(), redis_client, prefix=prefix, clock=lambda: NOW, publish=False)
    tokens = TokenStore(redis_client, prefix)
    for role in ROLES:  # every role, all in another department
        await tokens.add(f"other-{role}", Principal(f"o-{role}", role, ("housing",), None))
        await tokens.add(f"region-{role}", Principal(f"r-{role}", role, None, ("3302",)))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://clues.test") as c:
        yield c


async def claimed_clue(store: ClueStore) -> str:
    await store.upsert_warnings([make_warning("w1"), make_warning("w2", "fp-other")])
    cid = clue_id("fp-1")
    await store.transition(cid, "dispatch", CENTRE, T0)
    await store.transition(cid, "claim", ALICE, T0, {"lease_s": 7 * 24 * 3600})
    return cid


async def snapshot(store: ClueStore, redis_client: aioredis.Redis, prefix: str) -> Any:
    cid = clue_id("fp-1")
    return (
        await store.get(cid),
        await store.get(clue_id("fp-other")),
        [e.id for e in await store.audit(cid)],
        await redis_client.xlen(f"{prefix}:outbox"),
    )


@pytest.mark.parametrize(("path", "action", "role"), CASES)
async def test_wrong_department_region_or_role_is_403_and_changes_nothing(
    client: httpx.AsyncClient,
    store: ClueStore,
    redis_client: aioredis.Redis,
    prefix: str,
    path: str,
    action: str,
    role: str,
) -> None:
    cid = await claimed_clue(store)
    before = await snapshot(store, redis_client, prefix)
    replies = []
    for token in (f"other-{role}", f"region-{role}"):
        replies.append(
            await client.post(
                f"/clues/{cid}/{path}",
                headers={"Authorization": f"Bearer {token}"},
                json=BODIES[action],
            )
        )

    assert [r.status_code for r in replies] == [403, 403], [r.text for r in replies]
    assert await snapshot(store, redis_client, prefix) == before


@pytest.mark.parametrize("role", ROLES)
async def test_a_role_that_may_not_act_is_403_even_in_its_own_department(
    client: httpx.AsyncClient,
    store: ClueStore,
    redis_client: aioredis.Redis,
    prefix: str,
    role: str,
) -> None:
    cid = await claimed_clue(store)
    await TokenStore(redis_client, prefix).add("own", Principal("own", role))
    before = await snapshot(store, redis_client, prefix)

    refused = []
    for path, action, *_ in ACTIONS:
        if role not in TRANSITIONS[action].roles:
            r = await client.post(
                f"/clues/{cid}/{path}",
                headers={"Authorization": "Bearer own"},
                json=BODIES[action],
            )
            refused.append((action, r.status_code))

    assert refused and all(code == 403 for _, code in refused), refused
    assert await snapshot(store, redis_client, prefix) == before


@pytest.mark.parametrize("role", ROLES)
async def test_reads_outside_the_scope_are_refused_or_empty(
    client: httpx.AsyncClient, store: ClueStore, role: str
) -> None:
    cid = await claimed_clue(store)
    h = {"Authorization": f"Bearer other-{role}"}

    detail = await client.get(f"/clues/{cid}", headers=h)
    audit = await client.get(f"/clues/{cid}/audit", headers=h)
    identity = await client.get(f"/clues/{cid}/identity", headers=h)
    listed = await client.get("/clues", headers=h)
    by_dept = await client.get("/clues", params={"department": "market-supervision"}, headers=h)
    bulk = await client.post("/clues/bulk", headers=h, json={"action": "claim", "ids": [cid]})

    assert (detail.status_code, audit.status_code, identity.status_code) == (403, 403, 403)
    assert listed.json()["items"] == [] and by_dept.json()["items"] == []
    assert bulk.json()["results"][0]["error"] == "Forbidden"
    assert [e.action for e in await store.audit(cid)] == ["open", "dispatch", "claim"]


async def test_an_inspector_not_holding_the_clue_is_403_for_its_identities_and_nothing_changes(
    client: httpx.AsyncClient, store: ClueStore, redis_client: aioredis.Redis, prefix: str
) -> None:
    cid = await claimed_clue(store)  # alice holds it
    tokens = TokenStore(redis_client, prefix)
    await tokens.add("bob", Principal("bob", "inspector", ("market-supervision",), ("3301",)))
    await tokens.add("alice", ALICE)
    before = await snapshot(store, redis_client, prefix)

    refused = await client.get(f"/clues/{cid}/identity", headers={"Authorization": "Bearer bob"})
    after_refusal = await snapshot(store, redis_client, prefix)
    shown = await client.get(f"/clues/{cid}/identity", headers={"Authorization": "Bearer alice"})

    assert refused.status_code == 403, refused.text
    detail = refused.json()["detail"]
    assert "bob may not see the identities" in detail and "claimed by alice" in detail
    assert "applicant=ph-7f3a" not in refused.text
    assert after_refusal == before  # no audit entry, no version, no outbox record
    assert shown.status_code == 200 and shown.json()["key"] == "region=330106|applicant=ph-7f3a"
    assert [e.actor for e in await store.audit(cid)][-1] == "alice"
