"""The clue HTTP API end to end over ASGI, with a real Redis behind it and real tokens."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
import redis.asyncio as aioredis
from clue_factories import EVIDENCE, T0, make_warning
from fastapi import FastAPI

from clues.api import create_app
from clues.model import clue_id
from clues.store import ClueStore
from envelope.events import ClueTransition, Disposition
from envelope.settings import Settings
from riskloop.metrics_text import samples

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

NOW = T0 + 3_600_000
TOKENS = (
    "t-alice=alice:inspector:market-supervision:3301 t-bob=bob:inspector:market-supervision:3301"
    " t-sam=sam:supervisor:*:* t-root=root:admin:*:* t-lena=lena:lead:market-supervision:*"
)
ALICE, BOB, SAM, ROOT, LENA = (
    {"Authorization": f"Bearer t-{n}"} for n in ("alice", "bob", "sam", "root", "lena")
)


@pytest.fixture
async def app(redis_client: aioredis.Redis, prefix: str) -> AsyncIterator[FastAPI]:
    settings = Settings(api_bootstrap_tokens=TOKENS)
    app = create_app(settings, redis_client, prefix=prefix, clock=lambda: NOW, publish=False)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://clues.test") as c:
        yield c


async def seed(store: ClueStore, n: int = 3) -> list[str]:
    await store.upsert_warnings(
        [
            make_warning(
                f"w{i}",
                fingerprint=f"fp-{i}",
                ts_ms=T0 + i,
                key=f"region=330106|applicant=cit-{i}",
                details={"entity": {"kind": "citizen", "id": f"cit-{i}"}},
            )
            for i in range(n)
        ]
    )
    return [clue_id(f"fp-{i}") for i in range(n)]


def metric(text: str, name: str, **labels: str) -> float:
    """Value of one sample in Prometheus text (0 when absent); labels in any order."""
    return next((s.value for s in samples(text, name) if s.labels == labels), 0.0)


async def post(client: httpx.AsyncClient, cid: str, action: str, who: dict, body=None):  # type: ignore[no-untyped-def]
    return await client.post(f"/clues/{cid}/{action}", headers=who, json=body or {})


async def test_inspector_works_a_clue_from_queue_to_close(
    client: httpx.AsyncClient, store: ClueStore, redis_client: aioredis.Redis, prefix: str
) -> None:
    ids = await seed(store)
    await post(client, ids[1], "dispatch", SAM)

    queue = (await client.get("/clues", params={"status": "dispatched"}, headers=ALICE)).json()
    claimed = await post(client, ids[1], "claim", ALICE)
    disposed = await post(
        client, ids[1], "dispose", ALICE, {"code": "rectified", "evidence_refs": EVIDENCE}
    )
    submitted = await post(client, ids[1], "submit", ALICE)
    closed = await post(client, ids[1], "approve", SAM, {"note": "checked"})
    detail = (await client.get(f"/clues/{ids[1]}", headers=ALICE)).json()

    assert [c["id"] for c in queue["items"]] == [ids[1]] and queue["next_cursor"] is None
    assert (claimed.status_code, claimed.json()["status_label"]) == (200, "in verification")
    assert claimed.json()["lease_expires_ms"] == NOW + 1_800_000
    assert disposed.json()["status"] == "disposed" and submitted.json()["status"] == "reviewing"
    assert closed.json()["status"] == "closed"
    assert [(a["action"], a["actor"], a["to"]) for a in detail["audit"]] == [
        ("open", "system", "new"),
        ("dispatch", "sam", "dispatched"),
        ("claim", "alice", "claimed"),
        ("dispose", "alice", "disposed"),
        ("submit", "alice", "reviewing"),
        ("approve", "sam", "closed"),
    ]
    assert detail["warning_ids"] == ["w1"]
    outbox = [f for _, f in await redis_client.xrange(f"{prefix}:outbox")]
    (entry,) = [f for f in outbox if f["kind"] == "disposition"]
    assert Disposition.from_json(entry["value"]).code == "rectified"
    steps = [ClueTransition.from_json(f["value"]) for f in outbox if f["kind"] == "transition"]
    assert [(t.action, t.actor) for t in steps if t.clue_id == ids[1]] == [
        (a["action"], a["actor"]) for a in detail["audit"]
    ]


async def test_personal_identifiers_are_pseudonymised_except_in_the_audited_identity_view(
    client: httpx.AsyncClient, store: ClueStore
) -> None:
    ids = await seed(store, 1)
    await post(client, ids[0], "dispatch", SAM)

    listed = (await client.get("/clues", headers=SAM)).json()["items"][0]
    detail = (await client.get(f"/clues/{ids[0]}", headers=ALICE)).json()
    refused = await client.get(f"/clues/{ids[0]}/identity", headers=ALICE)  # not her clue yet
    shown = await client.get(f"/clues/{ids[0]}/identity", headers=LENA)

    for view in (listed, detail):
        assert "cit-0" not in str(view)
        assert view["key"].startswith("region=330106|applicant=pid-")
        assert view["details"]["entity"]["id"] == view["key"].rsplit("=", 1)[1]
    assert refused.status_code == 403, refused.text
    assert "alice may not see the identities" in refused.json()["detail"]
    assert "nobody has claimed it" in refused.json()["detail"]
    assert "cit-0" not in refused.text
    assert shown.status_code == 200 and shown.json()["key"] == "region=330106|applicant=cit-0"
    trail = (await client.get(f"/clues/{ids[0]}/audit", headers=SAM)).json()
    assert [(e["action"], e["actor"], e["reason"]) for e in trail][-2:] == [
        ("dispatch", "sam", "to market-supervision"),  # alice's refused view: no entry
        ("reveal", "lena", "identity viewed"),
    ]


async def test_requests_without_a_valid_token_are_401_and_ops_pages_are_open(
    client: httpx.AsyncClient, store: ClueStore
) -> None:
    ids = await seed(store, 1)

    none = await client.post(f"/clues/{ids[0]}/claim")
    bad = await client.get("/clues", headers={"Authorization": "Bearer nope"})

    assert (none.status_code, bad.status_code) == (401, 401)
    assert "Authorization: Bearer" in none.json()["detail"]
    assert none.headers["www-authenticate"] == "Bearer"
    for path in ("/healthz", "/metrics", "/ui", "/ui/inspector.js", "/openapi.json"):
        assert (await client.get(path)).status_code == 200, path
    assert (await store.get(ids[0])).status == "new"  # type: ignore[union-attr]


async def test_conflicts_are_409_and_bad_input_422_with_a_message(
    client: httpx.AsyncClient, store: ClueStore
) -> None:
    ids = await seed(store, 1)
    await post(client, ids[0], "dispatch", SAM)
    await post(client, ids[0], "claim", ALICE)

    second = await post(client, ids[0], "claim", BOB)
    foreign = await post(client, ids[0], "dispose", BOB, {"code": "duplicate"})
    stale = await client.post(
        f"/clues/{ids[0]}/comments", headers={**ALICE, "If-Match": "1"}, json={"text": "hi"}
    )
    bad_code = await post(client, ids[0], "dispose", ALICE, {"code": "closed"})
    no_proof = await post(client, ids[0], "dispose", ALICE, {"code": "confirmed_violation"})
    bad_status = await client.get("/clues", params={"status": "open"}, headers=ALICE)
    bad_cursor = await client.get("/clues", params={"cursor": "garbage"}, headers=ALICE)

    assert second.status_code == 409 and "already claimed by alice" in second.json()["detail"]
    assert foreign.status_code == 409 and "claimed by alice, not bob" in foreign.json()["detail"]
    assert stale.status_code == 409 and "reload it" in stale.json()["detail"]
    assert bad_code.status_code == 422 and "confirmed_violation" in bad_code.text
    assert no_proof.status_code == 422 and "evidence reference" in no_proof.json()["detail"]
    assert bad_status.status_code == 422 and "valid statuses: new," in bad_status.text
    assert bad_cursor.status_code == 422 and "next_cursor" in bad_cursor.json()["detail"]
    assert (await store.get(ids[0])).status == "claimed"  # type: ignore[union-attr]


async def test_list_pages_with_next_cursor_and_filters_mine(
    client: httpx.AsyncClient, store: ClueStore
) -> None:
    ids = await seed(store, 5)
    await post(client, ids[2], "dispatch", SAM)
    await post(client, ids[2], "claim", ALICE)

    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = (await client.get("/clues", params=params, headers=SAM)).json()
        seen += [c["id"] for c in body["items"]]
        if not (cursor := body["next_cursor"]):
            break
    mine = (await client.get("/clues", params={"mine": "true"}, headers=ALICE)).json()

    assert seen == list(reversed(ids))  # newest first_seen first
    assert [c["id"] for c in mine["items"]] == [ids[2]]


async def test_bulk_dispatch_and_close_report_each_item(
    client: httpx.AsyncClient, store: ClueStore
) -> None:
    ids = await seed(store, 3)

    dispatched = await client.post(
        "/clues/bulk", headers=SAM, json={"action": "dispatch", "ids": [*ids[:2], "clue-nope"]}
    )
    closed = await client.post(
        "/clues/bulk",
        headers=SAM,
        json={"action": "close", "ids": [ids[2], ids[0]], "args": {"code": "not_applicable"}},
    )

    body = dispatched.json()
    assert (body["ok"], body["failed"]) == (2, 1)
    assert [(r["id"], r["ok"]) for r in body["results"]] == [
        (ids[0], True),
        (ids[1], True),
        ("clue-nope", False),
    ]
    results = closed.json()["results"]
    assert (results[0]["ok"], results[0]["status"]) == (True, "closed")  # new: dismissed
    assert results[1]["ok"] is False and "reviewing" in results[1]["detail"]


async def test_an_admin_creates_tokens_others_cannot(
    client: httpx.AsyncClient, store: ClueStore
) -> None:
    body = {"name": "carol", "role": "inspector", "departments": ["housing"]}

    refused = await client.post("/admin/tokens", headers=SAM, json=body)
    made = await client.post("/admin/tokens", headers=ROOT, json=body)
    who = await client.get("/whoami", headers={"Authorization": f"Bearer {made.json()['token']}"})
    listed = (await client.get("/admin/tokens", headers=ROOT)).json()

    assert refused.status_code == 403
    assert who.json() == {
        "name": "carol",
        "role": "inspector",
        "departments": ["housing"],
        "regions": ["*"],
    }
    assert made.json()["token"] not in str(listed)  # only hashes are kept
    assert made.json()["id"] in {t["id"] for t in listed}
    gone = await client.delete(f"/admin/tokens/{made.json()['id']}", headers=ROOT)
    after = await client.get("/whoami", headers={"Authorization": f"Bearer {made.json()['token']}"})
    assert (gone.status_code, after.status_code) == (200, 401)


async def test_metrics_show_backlog_deadlines_and_precision_per_rule(
    client: httpx.AsyncClient, store: ClueStore
) -> None:
    ids = await seed(store, 3)
    before = (await client.get("/metrics")).text
    for cid, verdict in (
        (ids[0], {"code": "rectified", "evidence_refs": EVIDENCE}),
        (ids[1], {"code": "false_positive", "sub_reason": "rule_too_sensitive"}),
    ):
        await post(client, cid, "dispatch", SAM)
        await post(client, cid, "claim", ALICE)
        await post(client, cid, "dispose", ALICE, verdict)
        await post(client, cid, "submit", ALICE)
        await post(client, cid, "approve", SAM)
    await post(client, ids[2], "dispatch", SAM)
    text = (await client.get("/metrics")).text

    assert metric(text, "riskloop_clues", status="closed") == 2
    assert metric(text, "riskloop_clue_backlog", status="dispatched", colour="green") == 1
    assert metric(text, "riskloop_clue_on_time_ratio", stage="sign") == 1.0
    assert metric(text, "riskloop_clue_deadlines_total", stage="dispose", result="on_time") == 2
    assert metric(text, "riskloop_clue_rule_precision", rule="approval.overdue") == 0.5
    closed = "riskloop_clue_closed_total"
    labels = {"rule": "approval.overdue", "code": "false_positive", "outcome": "dismissed"}
    assert metric(text, closed, **labels) == 1
    claims = "riskloop_clue_transitions_total"
    assert metric(text, claims, action="claim") == metric(before, claims, action="claim") + 2
    hist = "riskloop_api_request_seconds_count"
    route = {"method": "POST", "route": "/clues/{clue_id}/claim", "status": "200"}
    assert metric(text, hist, **route) >= 2
    assert metric(text, "riskloop_clue_time_to_claim_seconds_count") >= 2


async def test_time_to_dispose_counts_each_clue_once_even_after_rework(
    client: httpx.AsyncClient, store: ClueStore
) -> None:
    (cid,) = await seed(store, 1)
    before = (await client.get("/metrics")).text
    verdict = {"code": "rectified", "evidence_refs": EVIDENCE}
    await post(client, cid, "dispatch", SAM)
    await post(client, cid, "claim", ALICE)
    await post(client, cid, "dispose", ALICE, verdict)
    await post(client, cid, "submit", ALICE)
    await post(client, cid, "reject", SAM, {"reason": "photo missing"})
    redone = await post(client, cid, "dispose", ALICE, verdict)
    text = (await client.get("/metrics")).text

    assert redone.json()["status"] == "disposed" and redone.json()["rework_count"] == 1
    count = "riskloop_clue_time_to_dispose_seconds_count"
    assert metric(text, count) == metric(before, count) + 1  # the first disposal only
    rework = "riskloop_clue_rework_total"
    assert metric(text, rework) == metric(before, rework) + 1  # the redo is counted here


async def test_audit_text_hides_the_clues_own_identifiers_wherever_they_appear(
    client: httpx.AsyncClient, store: ClueStore
) -> None:
    (cid,) = await seed(store, 1)  # applicant cit-0: shaped like no ID or phone number
    await post(client, cid, "dispatch", SAM, {"note": "cit-0 called twice"})
    await post(client, cid, "claim", ALICE)
    await post(client, cid, "comments", ALICE, {"text": "phoned cit-0; 申请人cit-0未接"})

    detail = (await client.get(f"/clues/{cid}", headers=ALICE)).json()
    trail = (await client.get(f"/clues/{cid}/audit", headers=SAM)).json()

    pseudonym = detail["key"].rsplit("=", 1)[1]
    for audit in (detail["audit"], trail):
        assert "cit-0" not in str(audit)
        reasons = [e["reason"] for e in audit if e["action"] in ("dispatch", "comment")]
        assert reasons == [
            f"to market-supervision: {pseudonym} called twice",
            f"phoned {pseudonym}; 申请人{pseudonym}未接",
        ]


async def test_tickets_list_red_clues_in_scope(client: httpx.AsyncClient, store: ClueStore) -> None:
    from clues import sla
    from clues.workdays import ms_of

    ids = await seed(store, 1)
    await post(client, ids[0], "dispatch", SAM)
    await sla.tick(store, ms_of(2026, 3, 25, 9))

    mine = (await client.get("/tickets", headers=LENA)).json()
    outsider = await client.post(
        "/admin/tokens", headers=ROOT, json={"name": "h", "role": "lead", "departments": ["health"]}
    )
    theirs = await client.get(
        "/tickets", headers={"Authorization": f"Bearer {outsider.json()['token']}"}
    )

    assert [(t["clue_id"], t["status"], t["level"]) for t in mine] == [(ids[0], "open", "1")]
    assert theirs.json() == []


async def test_the_inspector_page_and_its_state_machine_are_served(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/ui")
    meta = (await client.get("/ui/meta.json")).json()

    assert page.headers["content-type"].startswith("text/html") and "clue queue" in page.text
    assert meta["actions"]["claim"] == {
        "path": "claim",
        "sources": ["dispatched"],
        "roles": ["inspector", "lead"],
        "holder": False,
        "override": ["lead"],
    }
    assert meta["labels"]["claimed"] == "in verification"


async def test_lifespan_reaper_returns_expired_claims_and_survives_a_missing_broker(
    redis_client: aioredis.Redis, prefix: str, store: ClueStore
) -> None:
    from clue_factories import ALICE as alice
    from clue_factories import CENTRE

    ids = await seed(store, 1)
    await store.transition(ids[0], "dispatch", CENTRE, T0)
    await store.transition(ids[0], "claim", alice, T0)  # lease ended long before NOW
    settings = Settings(broker="kafka://127.0.0.1:9")  # nothing listens there
    app = create_app(settings, redis_client, prefix=prefix, clock=lambda: NOW, tick_s=0.05)

    async with app.router.lifespan_context(app):
        for _ in range(50):
            clue = await store.get(ids[0])
            if clue is not None and clue.status == "dispatched":
                break
            await asyncio.sleep(0.05)

    assert clue is not None and clue.status == "dispatched" and clue.claimed_by is None
    assert await redis_client.ping()  # type: ignore[misc]  # the app did not close its client
