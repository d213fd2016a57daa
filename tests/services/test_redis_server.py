"""Private Redis servers: the session one answers, a restarted one keeps its AOF data."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from riskloop.services import ServiceGroup, restart, start_redis

pytestmark = pytest.mark.integration


def test_session_redis_answers_and_stores(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        assert client.ping() is True
        client.set("services:test:key", "330106", ex=60)
        assert client.get("services:test:key") == b"330106"
    finally:
        client.delete("services:test:key")
        client.close()


@pytest.mark.parametrize(("appendonly", "after_restart"), [(True, b"claimed"), (False, None)])
def test_restart_keeps_keys_only_with_append_only_file(
    tmp_path: Path, appendonly: bool, after_restart: bytes | None
) -> None:
    with ServiceGroup(tmp_path) as group:
        server = group.add(start_redis(group.workdir("redis"), appendonly=appendonly))
        old_pid, old_url = server.pid, server.url
        with redis.Redis.from_url(server.url) as client:
            client.hset("clue:1", "status", "claimed")

        restart(server)

        assert server.url == old_url and server.pid != old_pid
        with redis.Redis.from_url(server.url) as client:
            assert client.hget("clue:1", "status") == after_restart
