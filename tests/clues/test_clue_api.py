"""The clue HTTP API end to end over ASGI, with a real Redis behind it."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import httpx
import pytest
import redis.asyncio as aioredis
from clue_factories import T0, make_warning
from fastapi import FastAPI

from clues.api import create_app
from clues.model import clue_id
from clues.store import ClueStore
from riskloop.events import Disposition
from riskloop.settings import Settings

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

NOW = T0 + 3_600_000
ALICE = {"X-Actor": "alice"}
BOB = {"X-Actor": "bob"}


@pytest.fixture
def app(redis_client: aioredis.Redis, prefix: str) -> FastAPI:
    return create_app(Settings(), redis_client, prefix=prefix, clock=lambda: NOW, publish=False)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://clues.test") as c:
        yield c


async def seed(store: ClueStore, n: int = 3) -> list[str]:
    await store.upsert_warnings(
        [make_warning(f"w{i}", fingerprint=f"fp-{i}", ts_ms=T0 + i) for i in range(n)]
    )
    return [clue_id(f"fp-{i}") for i in range(n)]


def metric(text: str, name: str, **labels: str) -> float:
    """Value of one sample in Prometheus text (0 when absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    m = re.search(rf"^{re.escape(name)}\{{{re.escape(want)}\}} (\S+)$", text, re.MULTILINE)
    return float(m.group(1)) if m else 0.0


async def test_inspector_lists_claims_and_disposes_a_clue(
    client: httpx.AsyncClient, store: ClueStore, redis_client: aioredis.Redis, prefix: str
) -> None:
    ids = await seed(store)

    listed = (await client.get("/clues", params={"status": "new"})).json()
    claimed = await client.post(f"/clues/{ids[1]}/claim", headers=ALICE)
    disposed = await client.post(
        f"/clues/{ids[1]}/dispose",
        headers=ALICE,
        json={"code": "false_positive", "note": "data entry error"},
    )
    detail = (await client.get(f"/clues/{ids[1]}")).json()

    assert [c["id"] for c in listed["items"]] == ids and listed["next_cursor"] is None
    assert claimed.status_code == 200
    assert claimed.json()["claimed_by"] == "alice"
    assert claimed.json()["lease_expires_ms"] == NOW + 1_800_000
    assert disposed.status_code == 200
    assert disposed.json()["status"] == "disposed"
    assert (detail["outcome"], detail["note"]) == ("dismissed", "data entry error")
    assert [(a["action"], a["actor"], a["to"]) for a in detail["audit"]] == [
        ("open", "system", "new"),
        ("claim", "alice", "claimed"),
        ("dispose", "alice", "disposed"),
    ]
    assert detail["warning_ids"] == ["w1"]
    (entry,) = await redis_client.xrange(f"{prefix}:outbox")
    assert Disposition.from_json(entry[1]["value"]).code == "false_positive"


async def test_list_pages_with_next_cursor(client: httpx.AsyncClient, store: ClueStore) -> None:
    ids = await seed(store, 5)

    first = (await client.get("/clues", params={"limit": 2})).json()
    second = await client.get("/clues", params={"limit": 2, "cursor": first["next_cursor"]})
    third = await client.get("/clues", params={"limit": 2, "cursor": second.json()["next_cursor"]})

    pages = [first, second.json(), third.json()]
    seen = [c["id"] for p in pages for c in p["items"]]
    assert seen == list(reversed(ids))  # all clues: newest first_seen first
    assert third.json()["next_cursor"] is None


async def test_list_filters_by_rule(client: httpx.AsyncClient, store: ClueStore) -> None:
    await store.upsert_warnings(
        [
            make_warning("a", fingerprint="fp-a"),
            make_warning("b", fingerprint="fp-b", rule_id="hotline.surge"),
        ]
    )

    body = (await client.get("/clues", params={"rule": "hotline.surge"})).json()

    assert [c["id"] for c in body["items"]] == [clue_id("fp-b")]


async def test_write_without_actor_is_401_with_a_message(
    client: httpx.AsyncClient, store: ClueStore
) -> None:
    ids = await seed(store, 1)

    resp = await client.post(f"/clues/{ids[0]}/claim")

    assert resp.status_code == 401
    assert "X-Actor" in resp.json()["detail"]
    assert (await store.get(ids[0])).status == "new"  # type: ignore[union-attr]


async def test_unknown_clue_is_404_with_a_message(client: httpx.AsyncClient) -> None:
    got = await client.get("/clues/clue-missing")
    claimed = await client.post("/clues/clue-missing/claim", headers=ALICE)

    assert got.status_code == claimed.status_code == 404
    assert claimed.json()["detail"] == "no clue with id 'clue-missing'"


async def test_conflicting_transitions_are_409_with_a_message(
    client: httpx.AsyncClient, store: ClueStore
) -> None:
    ids = await seed(store, 1)
    await client.post(f"/clues/{ids[0]}/claim", headers=ALICE)

    second_claim = await client.post(f"/clues/{ids[0]}/claim", headers=BOB)
    foreign_dispose = await client.post(
        f"/clues/{ids[0]}/dispose", headers=BOB, json={"code": "rectified"}
    )

    assert second_claim.status_code == 409
    assert "already claimed by alice until 2026-03-02T02:45:00Z" in second_claim.json()["detail"]
    assert second_claim.json()["status"] == "claimed"
    assert foreign_dispose.status_code == 409
    assert "claimed by alice, not bob" in foreign_dispose.json()["detail"]


async def test_bad_input_is_422_naming_what_is_valid(
    client: httpx.AsyncClient, store: ClueStore
) -> None:
    ids = await seed(store, 1)
    await client.post(f"/clues/{ids[0]}/claim", headers=ALICE)

    bad_code = await client.post(f"/clues/{ids[0]}/dispose", headers=ALICE, json={"code": "closed"})
    bad_status = await client.get("/clues", params={"status": "open"})
    bad_cursor = await client.get("/clues", params={"cursor": "garbage"})
    bad_lease = await client.post(f"/clues/{ids[0]}/claim", headers=BOB, json={"lease_s": 5})

    assert bad_code.status_code == 422
    assert "unknown disposition code 'closed'" in bad_code.text
    assert "confirmed_violation" in bad_code.text and "not_applicable" in bad_code.text
    assert bad_status.status_code == 422
    assert "valid statuses: new, claimed, disposed" in bad_status.json()["detail"]
    assert bad_cursor.status_code == 422 and "next_cursor" in bad_cursor.json()["detail"]
    assert bad_lease.status_code == 422 and "lease_s" in bad_lease.text
    assert (await store.get(ids[0])).status == "claimed"  # type: ignore[union-attr]


async def test_metrics_show_queue_by_status_transitions_and_request_times(
    client: httpx.AsyncClient, store: ClueStore
) -> None:
    ids = await seed(store, 3)
    before = (await client.get("/metrics")).text

    await client.post(f"/clues/{ids[0]}/claim", headers=ALICE)
    await client.get(f"/clues/{ids[0]}")
    await client.get("/openapi.json")
    await client.get("/no/such/page")
    after = await client.get("/metrics")

    text = after.text
    assert after.headers["content-type"].startswith("text/plain")
    assert metric(text, "riskloop_clues", status="new") == 2
    assert metric(text, "riskloop_clues", status="claimed") == 1
    claims = "riskloop_clue_transitions_total"
    assert metric(text, claims, action="claim") == metric(before, claims, action="claim") + 1
    hist = "riskloop_api_request_seconds_count"
    labels = {"method": "GET", "route": "/clues/{clue_id}", "status": "200"}
    assert metric(text, hist, **labels) == metric(before, hist, **labels) + 1
    docs = {"method": "GET", "route": "/openapi.json", "status": "200"}
    assert metric(text, hist, **docs) == metric(before, hist, **docs) + 1
    lost = {"method": "GET", "route": "unmatched", "status": "404"}
    assert metric(text, hist, **lost) == metric(before, hist, **lost) + 1
    assert 'riskloop_clue_upserts_total{result="duplicate"}' in text


async def test_healthz_answers_when_redis_does(client: httpx.AsyncClient) -> None:
    resp = await client.get("/healthz")

    assert (resp.status_code, resp.json()) == (200, {"status": "ok"})


async def test_lifespan_reaper_returns_expired_claims_and_survives_a_missing_broker(
    redis_client: aioredis.Redis, prefix: str, store: ClueStore
) -> None:
    ids = await seed(store, 1)
    await store.claim(ids[0], "alice", now_ms=T0)  # lease ended long before NOW
    settings = Settings(broker="kafka://127.0.0.1:9")  # nothing listens there
    app = create_app(settings, redis_client, prefix=prefix, clock=lambda: NOW)

    async with app.router.lifespan_context(app):
        for _ in range(50):
            clue = await store.get(ids[0])
            if clue is not None and clue.status == "new":
                break
            await asyncio.sleep(0.05)

    assert clue is not None and clue.status == "new"
    assert await redis_client.ping()  # type: ignore[misc]  # the app did not close a client it does not own
