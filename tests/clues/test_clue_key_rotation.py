"""Rotating the pseudonym key: the API (and the worker) started with a new key and the old one
in ``RISKLOOP_PSEUDONYM_OLD_KEYS_FILE`` (or ``RISKLOOP_PSEUDONYM_OLD_KEYS``) still open what
the old key sealed, so the identity view of a clue raised before the rotation shows its
originals. Through the API over ASGI on a real Redis."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis
from clue_factories import T0, make_warning

from clues.api import create_app
from clues.model import clue_id
from clues.store import ClueStore
from envelope.pseudonym import Masker
from envelope.settings import Settings
from streams.emit import worker_masker

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

OLD, NEW = "the key before the rotation", "the key after the rotation"
RAW_KEY = "region=330106|applicant=cit-0eedc8ad0e2b"
SAM = {"Authorization": "Bearer t-sam"}


async def identity(settings: Settings, redis_client: aioredis.Redis, prefix: str) -> dict:
    app = create_app(settings, redis_client, prefix=prefix, clock=lambda: T0, publish=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://clues.test") as c:
            r = await c.get(f"/clues/{clue_id('fp-1')}/identity", headers=SAM)
            assert r.status_code == 200, r.text
            return r.json()


@pytest.fixture
async def sealed_before(store: ClueStore) -> str:
    """A clue whose warning the worker sealed under the old key; its pseudonymised key."""
    masked = Masker(OLD.encode()).mask_warning(make_warning("w1", key=RAW_KEY))
    await store.upsert_warnings([masked])
    return masked.key


def settings(old_keys_file: Path | None, old_keys: str = "") -> Settings:
    return Settings(
        api_bootstrap_tokens="t-sam=sam:supervisor:*:*",
        pseudonym_key=NEW,
        pseudonym_old_keys_file=str(old_keys_file or ""),
        pseudonym_old_keys=old_keys,
    )


async def test_the_identity_view_opens_a_seal_of_the_old_key_kept_in_the_file(
    sealed_before: str, redis_client: aioredis.Redis, prefix: str, tmp_path: Path
) -> None:
    old_keys = tmp_path / "old-keys"
    old_keys.write_text(f"an even older key, still kept\n\n{OLD}\n")

    clue = await identity(settings(old_keys), redis_client, prefix)

    assert clue["key"] == RAW_KEY and "sealed" not in clue["details"]
    worker = worker_masker(settings(old_keys))  # and the worker opens a verdict's seal too
    assert worker.original_key(Masker(OLD.encode()).seal({"key": RAW_KEY})) == RAW_KEY


async def test_without_the_old_key_the_identity_view_shows_the_pseudonyms(
    sealed_before: str, redis_client: aioredis.Redis, prefix: str
) -> None:
    clue = await identity(settings(None), redis_client, prefix)
    assert clue["key"] == sealed_before != RAW_KEY


async def test_a_short_old_key_stops_the_start_naming_the_file_and_line(
    redis_client: aioredis.Redis, prefix: str, tmp_path: Path
) -> None:
    old_keys = tmp_path / "old-keys"
    old_keys.write_text(f"{OLD}\nshort\n")
    with pytest.raises(SystemExit, match=r"old-keys' line 2: the key is 5 bytes; use at least 16"):
        create_app(settings(old_keys), redis_client, prefix=prefix, publish=False)


async def test_the_old_key_given_in_the_variable_opens_its_seal_too(
    sealed_before: str, redis_client: aioredis.Redis, prefix: str
) -> None:
    env = {
        "RISKLOOP_API_BOOTSTRAP_TOKENS": "t-sam=sam:supervisor:*:*",
        "RISKLOOP_PSEUDONYM_KEY": NEW,
        "RISKLOOP_PSEUDONYM_OLD_KEYS": f"an even older key still kept,{OLD} ",
    }
    from_env = Settings.from_env(env)

    clue = await identity(from_env, redis_client, prefix)

    assert clue["key"] == RAW_KEY and "sealed" not in clue["details"]
    worker = worker_masker(from_env)
    assert worker.original_key(Masker(OLD.encode()).seal({"key": RAW_KEY})) == RAW_KEY


async def test_a_short_old_key_in_the_variable_stops_the_start_naming_its_place(
    redis_client: aioredis.Redis, prefix: str
) -> None:
    with pytest.raises(SystemExit) as stopped:
        create_app(settings(None, f"{OLD},,short"), redis_client, prefix=prefix, publish=False)
    message = str(stopped.value)
    assert "RISKLOOP_PSEUDONYM_OLD_KEYS key 3: the key is 5 bytes; use at least 16" in message
    assert "short" not in message  # the key itself is not echoed
