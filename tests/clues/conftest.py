"""Fixtures for the clue queue tests: a Redis client and a store under a private key prefix."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from clues.store import ClueStore


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
