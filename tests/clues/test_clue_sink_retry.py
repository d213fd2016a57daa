"""The clue sink retries a write Redis refused, as it does a lost connection: giving up would
let the stream acknowledge warnings that were never written."""

from __future__ import annotations

import pytest
from redis.exceptions import ConnectionError, ResponseError

from streams import agents

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_refused_and_lost_writes_are_retried_until_one_lands(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    waits: list[float] = []

    async def no_sleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(agents.asyncio, "sleep", no_sleep)
    failures = [
        ResponseError("MISCONF Errors writing to the AOF file"),
        ConnectionError("connection reset"),
        *[OSError("no route")] * 6,
    ]

    async def write(batch: list[str]) -> list[str]:
        if failures:
            raise failures.pop(0)
        return ["new"] * len(batch)

    assert await agents._retry(write, ["w1", "w2"]) == ["new", "new"]
    assert waits == [0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0]  # backoff capped at 5 s
