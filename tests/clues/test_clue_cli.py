"""``riskloop clues …`` as a terminal user runs it, against the live API and its Redis."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis.asyncio as aioredis
from clue_factories import LiveApi, make_warning

from clues.model import clue_id
from riskloop.cli import main

pytestmark = [pytest.mark.integration]


def riskloop(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_a_new_token_works_the_queue_from_the_terminal(
    live_api: LiveApi, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def seed() -> None:
        client = aioredis.from_url(live_api.redis_url, decode_responses=True)
        try:
            now = int(time.time() * 1000)
            await live_api.store(client).upsert_warnings([make_warning("wc", "fp-cli", ts_ms=now)])
        finally:
            await client.aclose()

    asyncio.run(seed())
    cid = clue_id("fp-cli")
    monkeypatch.setenv("RISKLOOP_REDIS_URL", live_api.redis_url)
    monkeypatch.setenv("RISKLOOP_API_URL", live_api.url)
    made = riskloop(
        capsys, "clues", "token", "create", "--name", "dora", "--role", "inspector",
        "--department", "market-supervision",
    )  # fmt: skip
    dora = made[1].strip()
    sam = ["clues", "--token", "t-sam"]
    as_dora = ["clues", "--token", dora]

    dispatched = riskloop(capsys, *sam, "dispatch", cid, "--note", "please check")
    claimed = riskloop(capsys, *as_dora, "claim", cid)
    refused = riskloop(capsys, *as_dora, "dispose", cid, "--code", "rectified")
    disposed = riskloop(
        capsys,
        *as_dora,
        "dispose",
        cid,
        "--code",
        "rectified",
        "--evidence",
        "https://files.example/p.jpg",
    )
    listed = riskloop(capsys, *as_dora, "list", "--status", "disposed", "--mine")
    shown = riskloop(capsys, *as_dora, "show", cid)
    tokens = riskloop(capsys, "clues", "token", "list")

    assert made[0] == 0 and dora.startswith("rlt_")
    assert dispatched[:2] == (0, f"{cid}: dispatched (version 2)\n")
    assert claimed[0] == 0 and "in verification" in claimed[1]
    assert refused[0] == 1 and "422: a rectified disposition needs at least one" in refused[2]
    assert disposed[0] == 0 and "disposed" in disposed[1]
    assert listed[0] == 0 and cid in listed[1] and "dora" in listed[1]
    assert [line.split()[2] for line in shown[1].splitlines()[1:]] == [
        "open",
        "dispatch",
        "claim",
        "dispose",
    ]
    assert "dora" in tokens[1] and dora not in tokens[1]


def test_without_a_token_the_cli_says_how_to_give_one(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RISKLOOP_TOKEN", raising=False)

    with pytest.raises(SystemExit, match="pass --token or set RISKLOOP_TOKEN"):
        main(["clues", "--api", "http://127.0.0.1:9", "list"])
