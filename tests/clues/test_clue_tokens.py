"""API tokens have a life: they expire, are listed and revoked by name, rotate without an
outage, and a revoked bootstrap token stays revoked when the API restarts."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
import pytest
import redis.asyncio as aioredis
from clue_factories import T0

from clues.access import token_hash
from clues.api import create_app
from envelope.settings import Settings

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

DAY = 86_400_000
TOKENS = "t-alice=alice:inspector:market-supervision:3301 t-root=root:admin:*:*"
ROOT = {"Authorization": "Bearer t-root"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class Clock:
    """The API's clock, moved by the test."""

    def __init__(self, now_ms: int) -> None:
        self.now_ms = now_ms

    def __call__(self) -> int:
        return self.now_ms


@pytest.fixture
def api(redis_client: aioredis.Redis, prefix: str) -> Callable[..., object]:
    """Start (and restart) an API on the test's Redis and prefix."""

    @asynccontextmanager
    async def run(clock: Clock, **settings: object) -> AsyncIterator[httpx.AsyncClient]:
        s = Settings(api_bootstrap_tokens=TOKENS, **settings)  # type: ignore[arg-type]
        app = create_app(s, redis_client, prefix=prefix, clock=clock, publish=False)
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://clues.test") as c,
        ):
            yield c

    return run


async def test_a_token_expires_after_its_days_and_no_later_than_the_maximum(api) -> None:  # type: ignore[no-untyped-def]
    clock = Clock(T0)
    async with api(clock, api_token_days=30, api_token_max_days=60) as c:
        body = {"name": "carol", "role": "inspector", "departments": ["housing"]}
        short = (await c.post("/admin/tokens", headers=ROOT, json={**body, "days": 2})).json()
        default = (await c.post("/admin/tokens", headers=ROOT, json=body)).json()
        too_long = await c.post("/admin/tokens", headers=ROOT, json={**body, "days": 61})
        clock.now_ms = T0 + 2 * DAY - 1
        before = await c.get("/whoami", headers=bearer(short["token"]))
        clock.now_ms = T0 + 2 * DAY
        after = await c.get("/whoami", headers=bearer(short["token"]))
        clock.now_ms = T0 + 30 * DAY - 1
        default_alive = await c.get("/whoami", headers=bearer(default["token"]))
        clock.now_ms = T0 + 30 * DAY
        default_gone = await c.get("/whoami", headers=bearer(default["token"]))

    assert short["expires_ms"] == str(T0 + 2 * DAY)
    assert too_long.status_code == 422 and "1 to 60 days" in too_long.json()["detail"]
    assert (before.status_code, after.status_code) == (200, 401)
    assert "expired" in after.json()["detail"]
    assert (default_alive.status_code, default_gone.status_code) == (200, 401)


async def test_tokens_are_listed_and_revoked_by_name(api) -> None:  # type: ignore[no-untyped-def]
    async with api(Clock(T0)) as c:
        body = {"name": "dave", "role": "lead", "departments": ["health"]}
        made = [(await c.post("/admin/tokens", headers=ROOT, json=body)).json() for _ in "ab"]
        listed = (await c.get("/admin/tokens", headers=ROOT, params={"name": "dave"})).json()
        by_alice = await c.delete(
            "/admin/tokens", headers=bearer("t-alice"), params={"name": "dave"}
        )
        revoked = await c.delete("/admin/tokens", headers=ROOT, params={"name": "dave"})
        again = await c.delete("/admin/tokens", headers=ROOT, params={"name": "dave"})
        answers = [await c.get("/whoami", headers=bearer(m["token"])) for m in made]
        root = await c.get("/whoami", headers=ROOT)

    assert sorted(r["id"] for r in listed) == sorted(m["id"] for m in made)
    assert all(r["expires_ms"] == str(T0 + 90 * DAY) and "token" not in r for r in listed)
    assert by_alice.status_code == 403
    assert revoked.json() == {"revoked": 2} and again.status_code == 404
    assert [a.status_code for a in answers] == [401, 401] and root.status_code == 200


async def test_a_rotated_token_keeps_working_for_its_grace_then_only_the_new_one(api) -> None:  # type: ignore[no-untyped-def]
    clock = Clock(T0)
    async with api(clock) as c:
        eve = {"name": "eve", "role": "supervisor"}
        old = (await c.post("/admin/tokens", headers=ROOT, json=eve)).json()
        rotated = await c.post(f"/admin/tokens/{old['id']}/rotate", headers=ROOT,
                               json={"grace_s": 600})  # fmt: skip
        new = rotated.json()["token"]
        both = [await c.get("/whoami", headers=bearer(t)) for t in (old["token"], new)]
        clock.now_ms = T0 + 600_000
        after = [await c.get("/whoami", headers=bearer(t)) for t in (old["token"], new)]
        missing = await c.post(f"/admin/tokens/{'0' * 64}/rotate", headers=ROOT, json={})

    assert rotated.status_code == 200 and rotated.json()["replaces"] == old["id"]
    assert [r.json()["name"] for r in both] == ["eve", "eve"]  # no moment without a token
    assert [r.status_code for r in after] == [401, 200]
    assert missing.status_code == 404


async def test_a_revoked_bootstrap_token_stays_revoked_when_the_api_restarts(api) -> None:  # type: ignore[no-untyped-def]
    alice_id = token_hash("t-alice")
    async with api(Clock(T0)) as c:
        first = await c.get("/whoami", headers=bearer("t-alice"))
        revoked = await c.delete(f"/admin/tokens/{alice_id}", headers=ROOT)
    async with api(Clock(T0 + 1)) as c:  # the same spec in the environment, a new process
        after_restart = await c.get("/whoami", headers=bearer("t-alice"))
        root = await c.get("/whoami", headers=ROOT)
        listed = (await c.get("/admin/tokens", headers=ROOT)).json()

    assert (first.status_code, revoked.status_code) == (200, 200)
    assert after_restart.status_code == 401
    assert root.status_code == 200 and alice_id not in {r["id"] for r in listed}
