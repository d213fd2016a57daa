"""The worker's consumer fetches with ``RISKLOOP_FETCH_MAX_WAIT_MS``, not Faust's fixed 1.5 s:
a broker that answers a fetch only when the wait is over would add that much to each hop."""

from __future__ import annotations

import asyncio
from pathlib import Path

from envelope.settings import Settings
from streams.app import create_app


def test_the_aiokafka_consumer_is_built_with_the_configured_fetch_wait(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=str(tmp_path), fetch_max_wait_ms=35))
    thread = app.consumer._thread  # type: ignore[attr-defined]

    async def build() -> int:  # built, not started: no broker needed
        return int(thread._create_worker_consumer(app.transport)._fetch_max_wait_ms)

    assert asyncio.run(build()) == 35
