"""The clue API never answers 500: odd ids, a Redis that is down, a burst past capacity,
unknown departments and self-approved extensions get a 4xx or a 503 that says why."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis
from clue_factories import T0, make_warning
from fastapi import FastAPI

from clues.api import create_app
from clues.model import clue_id
from envelope.settings import Settings
from riskloop.services import Service, ServiceGroup, start_redis

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

NOW = T0 + 3_600_000
TOKENS = "t-alice=alice:inspector:market-supervision:3301 t-sam=sam:supervisor:*:*" + (
    " t-lena=lena:lead:market-supervision:* t-lou=lou:lead:market-supervision:*"
    " t-root=root:admin:*:*"
)
ALICE, SAM, LENA, LOU, ROOT = (
    {"Authorization": f"Bearer t-{n}"} for n in ("alice", "sam", "lena", "lou", "root")
)
OUTSIDER = {"Authorization": "Bearer t-olga"}


@pytest.fixture
async def client(redis_client: aioredis.Redis, prefix: str) -> AsyncIterator[httpx.AsyncClient]:
    tokens = TOKENS + " t-olga=olga:inspector:housing:3302"
    app = create_app(Settings(api_bootstrap_tokens=tokens), redis_client, prefix=prefix,
                     clock=lambda: NOW, publish=False)  # fmt: skip
    async with app.router.lifespan_context(app), _client(app) as c:
        yield c


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://clues.test")


async def _seed(redis_client: aioredis.Redis, prefix: str) -> str:
    from clues.store import ClueStore

    await ClueStore(redis_client, prefix).upsert_warnings([make_warning("w1", "fp-1")])
    return clue_id("fp-1")


async def test_odd_clue_ids_are_refused_before_they_reach_redis(
    client: httpx.AsyncClient, redis_client: aioredis.Redis, prefix: str
) -> None:
    cid = await _seed(redis_client, prefix)
    await client.post(f"/clues/{cid}/dispatch", headers=SAM, json={})
    odd = [f"{cid}:audit", f"{cid}:warnings", "clue-nope", "x" * 300, "%00", f"{cid}*"]

    answers = []
    for who in (SAM, ALICE, OUTSIDER):
        for bad in odd:
            answers.append(await client.get(f"/clues/{bad}", headers=who))
            answers.append(await client.get(f"/clues/{bad}/audit", headers=who))
            answers.append(await client.post(f"/clues/{bad}/claim", headers=who, json={}))
            answers.append(await client.post(f"/clues/{bad}/comments", headers=who,
                                             json={"text": "hi"}))  # fmt: skip
    merged = await client.post(f"/clues/{cid}/merge", headers=SAM, json={"into": f"{cid}:audit"})
    bulk = await client.post("/clues/bulk", headers=SAM,
                             json={"action": "dispatch", "ids": [f"{cid}:warnings"]})  # fmt: skip

    assert {r.status_code for r in answers} == {422}, [r.text for r in answers][:3]
    assert all("clue_id" in r.json()["detail"] for r in answers)
    assert isinstance(answers[0].json()["detail"], str)
    assert merged.status_code == 404 and f"{cid}:audit" in merged.json()["detail"]
    assert bulk.status_code == 200 and bulk.json()["results"][0]["error"] == "ClueNotFound"
    trail = (await client.get(f"/clues/{cid}/audit", headers=SAM)).json()
    assert [e["action"] for e in trail] == ["open", "dispatch"]  # nothing else happened


async def test_an_extension_is_decided_by_someone_else_than_who_asked(
    client: httpx.AsyncClient, redis_client: aioredis.Redis, prefix: str
) -> None:
    cid = await _seed(redis_client, prefix)
    await client.post(f"/clues/{cid}/dispatch", headers=SAM, json={})
    await client.post(f"/clues/{cid}/claim", headers=LENA, json={})
    await client.post(f"/clues/{cid}/extension", headers=LENA, json={"days": 2, "reason": "lab"})
    own = await client.post(
        f"/clues/{cid}/extension/decision", headers=LENA, json={"decision": "approve"}
    )
    before = (await client.get(f"/clues/{cid}", headers=SAM)).json()
    other = await client.post(
        f"/clues/{cid}/extension/decision", headers=LOU, json={"decision": "approve"}
    )

    assert own.status_code == 409, own.text
    assert "lena asked for this extension" in own.json()["detail"]
    assert before["extension_count"] == 0 and before["ext_new_due_ms"] is not None
    assert other.status_code == 200 and other.json()["extension_count"] == 1


async def test_a_dispatch_to_an_unknown_department_is_refused_and_creates_no_key(
    client: httpx.AsyncClient, redis_client: aioredis.Redis, prefix: str
) -> None:
    cid = await _seed(redis_client, prefix)
    injected = "' OR '1'='1' --"
    keys_before = {k async for k in redis_client.scan_iter(match=f"{prefix}:*")}

    refused = await client.post(f"/clues/{cid}/dispatch", headers=SAM,
                                json={"department": injected})  # fmt: skip
    token = await client.post("/admin/tokens", headers=ROOT, json={
        "name": "x", "role": "inspector", "departments": ["nowhere"]})  # fmt: skip
    region = await client.get("/clues", headers=SAM, params={"region": "4403"})
    dept = await client.get("/clues", headers=SAM, params={"department": injected})
    keys_after = {k async for k in redis_client.scan_iter(match=f"{prefix}:*")}
    known = await client.post(f"/clues/{cid}/dispatch", headers=SAM,
                              json={"department": "housing"})  # fmt: skip

    assert refused.status_code == 422, refused.text
    assert "unknown department" in refused.json()["detail"]
    assert "market-supervision" in refused.json()["detail"]  # the known ones are named
    assert token.status_code == 422 and "'nowhere'" in token.json()["detail"]
    assert region.status_code == 422 and "unknown region code '4403'" in region.json()["detail"]
    assert dept.status_code == 422
    assert not [k for k in keys_after - keys_before if "OR" in k]
    assert keys_after == keys_before
    assert known.status_code == 200 and known.json()["department"] == "housing"


async def test_departments_come_from_the_setting_when_given(
    redis_client: aioredis.Redis, prefix: str
) -> None:
    cid = await _seed(redis_client, prefix)
    settings = Settings(api_bootstrap_tokens=TOKENS, departments="market-supervision, tax")
    app = create_app(settings, redis_client, prefix=prefix, clock=lambda: NOW, publish=False)
    async with app.router.lifespan_context(app), _client(app) as c:
        housing = await c.post(
            f"/clues/{cid}/dispatch", headers=SAM, json={"department": "housing"}
        )
        tax = await c.post(f"/clues/{cid}/dispatch", headers=SAM, json={"department": "tax"})

    assert (
        housing.status_code == 422
        and "known departments: market-supervision, tax" in (housing.json()["detail"])
    )
    assert tax.status_code == 200 and tax.json()["department"] == "tax"


# --- a Redis of our own, to stop and to pause ---------------------------------------------------


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[Service]:
    with ServiceGroup(tmp_path) as group:
        yield group.add(start_redis(group.workdir("redis")))


async def test_with_redis_down_every_endpoint_answers_503_with_retry_after(
    own_redis: Service,
) -> None:
    settings = Settings(api_bootstrap_tokens=TOKENS, redis_url=own_redis.url)
    app = create_app(settings, clock=lambda: NOW, publish=False, tick_s=3600)
    async with app.router.lifespan_context(app), _client(app) as c:
        up = await c.get("/whoami", headers=ALICE)
        own_redis.stop()
        answers = {
            path: await c.get(path, headers=ALICE)
            for path in ("/clues", "/whoami", "/metrics", "/healthz", "/tickets",
                         f"/clues/{clue_id('fp-1')}")
        }  # fmt: skip

    assert up.status_code == 200
    for path, r in answers.items():
        assert r.status_code == 503, (path, r.text)
        assert r.headers["retry-after"] == "1", path
        assert "redis" in r.json()["detail"].lower(), path


async def test_past_capacity_the_api_answers_503_at_once_and_opens_no_more_connections(
    own_redis: Service,
) -> None:
    settings = Settings(
        api_bootstrap_tokens=TOKENS,
        redis_url=own_redis.url,
        api_max_in_flight=6,
        api_redis_max_connections=2,
        api_redis_pool_timeout_s=0.3,
    )
    app = create_app(settings, clock=lambda: NOW, publish=False, tick_s=3600)
    admin = aioredis.from_url(own_redis.url)
    async with app.router.lifespan_context(app), _client(app) as c:
        await asyncio.gather(*(c.get("/whoami", headers=ALICE) for _ in range(4)))  # warm
        clients_before = len(await admin.client_list())
        await admin.client_pause(1500)  # Redis stalls: every request in flight waits
        answers = await asyncio.gather(*(c.get("/clues", headers=ALICE) for _ in range(40)))
        clients_after = len(await admin.client_list())
    await admin.aclose()

    codes = [r.status_code for r in answers]
    assert set(codes) == {200, 503}, codes
    at_capacity = [r for r in answers if "at capacity" in r.text]
    pool_busy = [r for r in answers if "does not answer" in r.text]
    assert len(at_capacity) == 34  # 6 in flight, the 34 others refused at once
    assert len(pool_busy) == 6 - codes.count(200) >= 4  # the pooled connections did the work
    assert all(r.headers["retry-after"] == "1" for r in answers if r.status_code == 503)
    assert clients_after <= clients_before + 2


async def test_a_huge_bad_value_is_named_in_a_short_reply(client: httpx.AsyncClient) -> None:
    # A 10,000-character status was echoed whole in the 422's detail.
    r = await client.get("/clues", params={"status": "x" * 10_000}, headers=SAM)
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert detail.startswith("unknown status 'xxx") and len(detail) < 600, detail[:700]
    assert detail.endswith("chars)")


async def test_a_body_over_the_bound_is_refused_with_413_declared_or_chunked(
    client: httpx.AsyncClient,
) -> None:
    cid = clue_id("fp-body")
    big = b'{"text": "' + b"x" * 2_000_000 + b'"}'
    r = await client.post(f"/clues/{cid}/comments", content=big, headers=SAM)
    assert r.status_code == 413 and "1,048,576 bytes" in r.json()["detail"]

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: read until the bound
        for i in range(0, len(big), 65_536):
            yield big[i : i + 65_536]

    r = await client.post(f"/clues/{cid}/comments", content=chunks(), headers=SAM)
    assert r.status_code == 413, (r.text, r.request.headers)
    small = await client.post(f"/clues/{cid}/comments", json={"text": "ok"}, headers=SAM)
    assert small.status_code == 404  # read and judged: there is no such clue
