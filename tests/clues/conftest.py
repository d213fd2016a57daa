"""Fixtures for the clue queue tests: a Redis client and a store under a private key prefix."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis
from clue_factories import LiveApi

from clues.store import ClueStore
from riskloop.services import ServiceGroup, start_api


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def prefix() -> str:
    """A key prefix no other test uses."""
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def redis_client(redis_url: str, prefix: str) -> AsyncIterator[aioredis.Redis]:
    """A client on the session Redis; every key under the test's prefix is deleted after."""
    client = aioredis.from_url(redis_url, decode_responses=True)
    yield client
    keys = [k async for k in client.scan_iter(match=f"{prefix}:*", count=1000)]
    for i in range(0, len(keys), 500):
        await client.unlink(*keys[i : i + 500])
    await client.aclose()


@pytest.fixture
def store(redis_client: aioredis.Redis, prefix: str) -> ClueStore:
    return ClueStore(redis_client, prefix)


# --- a live API (child process, real HTTP) for the browser, fuzzing and CLI tests ----------------

LIVE_TOKENS = (
    "t-alice=alice:inspector:market-supervision:3301 t-sam=sam:supervisor:*:*"
    " t-lena=lena:lead:market-supervision:* t-root=root:admin:*:*"
)


@pytest.fixture(scope="module")
def live_api(redis_url: str, services_dir: Path) -> Iterator[LiveApi]:
    """``riskloop api`` on a free port, over its own Redis database, with test tokens."""
    url = redis_url.rsplit("/", 1)[0] + "/7"
    redis.Redis.from_url(url).flushdb()
    env = {"RISKLOOP_REDIS_URL": url, "RISKLOOP_API_BOOTSTRAP_TOKENS": LIVE_TOKENS}
    env["RISKLOOP_BROKER"] = "kafka://127.0.0.1:9"  # nothing there: the outbox waits
    with ServiceGroup(services_dir / f"clue-api-{uuid.uuid4().hex[:6]}") as group:
        api = group.add(start_api(group.workdir("api"), env))
        yield LiveApi(api.url, url)
    redis.Redis.from_url(url).flushdb()
