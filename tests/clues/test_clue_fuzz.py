"""API fuzzing with schemathesis against the live API's own OpenAPI spec: whatever the input,
no endpoint answers with a server error (5xx)."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
import redis.asyncio as aioredis
import schemathesis
from clue_factories import CENTRE, LiveApi, make_warning
from hypothesis import HealthCheck, given, settings

from clues.model import clue_id

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def api_schema(live_api: LiveApi) -> schemathesis.schemas.BaseSchema:
    """The spec as the running API serves it, with a few clues to hit."""

    async def seed() -> None:
        client = aioredis.from_url(live_api.redis_url, decode_responses=True)
        try:
            store = live_api.store(client)
            now = int(time.time() * 1000)
            await store.upsert_warnings([make_warning(f"wf{i}", f"fp-f{i}") for i in range(3)])
            await store.transition(clue_id("fp-f1"), "dispatch", CENTRE, now)
        finally:
            await client.aclose()

    asyncio.run(seed())
    return schemathesis.openapi.from_url(f"{live_api.url}/openapi.json")


def send(case: schemathesis.Case, base: str, token: str) -> httpx.Response:
    """Send a generated case with httpx (schemathesis's own transport is not used)."""
    kw = case.as_transport_kwargs(base_url=base, headers={"Authorization": f"Bearer {token}"})
    data = kw.get("data")
    return httpx.request(
        kw["method"],
        kw["url"],
        headers=kw.get("headers"),
        params=kw.get("params"),
        json=kw.get("json"),
        content=data if isinstance(data, bytes | str) else None,
        cookies=kw.get("cookies"),
        timeout=10,
    )


def test_no_input_makes_the_api_fail(
    api_schema: schemathesis.schemas.BaseSchema, live_api: LiveApi
) -> None:
    base = live_api.url
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 25
    failures: list[str] = []
    for op in operations:

        @given(case=op.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case: schemathesis.Case) -> None:
            for token in ("t-sam", "t-alice"):
                response = send(case, base, token)
                if response.status_code >= 500:
                    failures.append(
                        f"{case.method} {case.formatted_path} {case.body!r}"
                        f" -> {response.status_code}: {response.text[:200]}"
                    )

        check()

    assert not failures, "\n".join(failures[:20])
