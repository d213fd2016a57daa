"""Deadline settings: the calendar patch file, estimated deadlines and the deadline policy file.

Clue deadlines across a year the holiday package does not cover are flagged ``estimated``
until a calendar file lists that year; the policy file sets the terms, a bad one stops the
API at start-up with its ``file:line`` message, and editing it never moves a running clue.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from clue_factories import ALICE, CENTRE, LEAD, T0, make_warning
from fastapi import FastAPI

from clues import sla
from clues.api import create_app
from clues.model import clue_id
from clues.policy_file import PolicyFileError, parse_policy
from clues.store import ClueStore
from clues.workdays import iso_local, ms_of
from envelope.calendar import covers, install_overrides
from envelope.settings import Settings

REPO = Path(__file__).resolve().parents[2]
TOKENS = "t-sam=sam:supervisor:*:* t-alice=alice:inspector:market-supervision:3301"
SAM = {"Authorization": "Bearer t-sam"}
DEC_2 = ms_of(2026, 12, 2, 10)  # a Wednesday; the package's data end with 2026
# The 2027 notice, as an operator would copy it before the package has it (New Year's Day).
CALENDAR_2027 = "holidays: [2027-01-01]\nworkdays: []\n"


@pytest.fixture(autouse=True)
def no_patch() -> Iterator[None]:
    install_overrides({})
    assert not covers(date(2027, 1, 4)), "the package covers 2027 now: use a later year here"
    yield
    install_overrides({})


@contextlib.asynccontextmanager
async def api(
    settings: Settings, redis_client: aioredis.Redis, prefix: str, now_ms: int
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The clue API over ASGI, as ``riskloop api`` starts it from these settings."""
    app = create_app(settings, redis_client, prefix=prefix, clock=lambda: now_ms, publish=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://clues.test") as c:
            yield app, c


async def dispatch(client: httpx.AsyncClient, cid: str) -> dict[str, Any]:
    reply = await client.post(f"/clues/{cid}/dispatch", headers=SAM, json={})
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def housing_clue(fp: str, ts_ms: int) -> Any:
    """A low-risk housing warning: 30 working days to dispose of (the shipped policy)."""
    return make_warning(f"w-{fp}", fp, ts_ms=ts_ms, department="housing", severity="low")


# --- the calendar -------------------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.anyio
async def test_a_deadline_counted_into_an_uncovered_year_is_flagged_estimated(
    redis_client: aioredis.Redis, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = ClueStore(redis_client, prefix)
    await store.upsert_warnings([housing_clue("fp-dec", DEC_2), housing_clue("fp-mar", T0)])
    settings = Settings(api_bootstrap_tokens=TOKENS)

    with caplog.at_level("WARNING", logger="envelope.calendar"):
        async with api(settings, redis_client, prefix, DEC_2) as (_, client):
            dispatched = await dispatch(client, clue_id("fp-dec"))
            detail = (await client.get(f"/clues/{clue_id('fp-dec')}", headers=SAM)).json()
    march = await store.transition(clue_id("fp-mar"), "dispatch", CENTRE, T0)

    assert iso_local(dispatched["due_ms"]) == "2027-01-13T23:59:59.999+08:00"  # Mon-Fri guessed
    assert dispatched["deadline_estimated"] is True and detail["deadline_estimated"] is True
    (step,) = [e for e in detail["audit"] if e["action"] == "dispatch"]
    assert step["after"]["deadline_estimated"] == "1"
    assert march.deadline_estimated is False  # 2026 is in the package
    guessed = [r.getMessage() for r in caplog.records if "no holiday data" in r.getMessage()]
    assert len(guessed) == 1 and "2027" in guessed[0]


@pytest.mark.integration
@pytest.mark.anyio
async def test_a_calendar_file_for_the_year_makes_the_deadline_exact(
    redis_client: aioredis.Redis, prefix: str, tmp_path: Path
) -> None:
    (tmp_path / "calendar.yaml").write_text(CALENDAR_2027)
    store = ClueStore(redis_client, prefix)
    await store.upsert_warnings([housing_clue("fp-dec", DEC_2)])
    settings = Settings(api_bootstrap_tokens=TOKENS, calendar_file=str(tmp_path / "calendar.yaml"))

    async with api(settings, redis_client, prefix, DEC_2) as (_, client):
        dispatched = await dispatch(client, clue_id("fp-dec"))

    assert iso_local(dispatched["due_ms"]) == "2027-01-14T23:59:59.999+08:00"  # 1 Jan off
    assert dispatched["deadline_estimated"] is False


@pytest.mark.integration
@pytest.mark.anyio
async def test_an_extension_into_an_uncovered_year_flags_the_deadline(store: ClueStore) -> None:
    await store.upsert_warnings([make_warning("w1", ts_ms=DEC_2)])
    cid = clue_id("fp-1")
    exact = await store.transition(cid, "dispatch", CENTRE, DEC_2)
    await store.transition(cid, "claim", ALICE, DEC_2, {"lease_s": 7 * 24 * 3600})
    asked = {"days": 10, "reason": "waiting for the lab"}
    await store.transition(cid, "request_extension", ALICE, DEC_2 + 1, asked)
    extended = await store.transition(
        cid, "decide_extension", LEAD, DEC_2 + 2, {"decision": "approve"}
    )

    assert iso_local(exact.due_ms or 0) == "2026-12-23T23:59:59.999+08:00"
    assert exact.deadline_estimated is False
    assert iso_local(extended.due_ms or 0) == "2027-01-06T23:59:59.999+08:00"
    assert extended.deadline_estimated is True


# --- the deadline policy ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ('"*":\n  "*": {dispose_day: 10}\n', 2, "unknown term 'dispose_day': use sign_days,"),
        ('"*":\n  high: {sign_days: 1}\n  "*": {dispose_days: -3}\n', 3,
         "dispose_days must be a whole number >= 0, got -3"),
        ('"*":\n  urgent: {dispose_days: 5}\n', 2,
         "unknown risk level 'urgent': use info, low, medium, high, critical, *"),
        ('"*":\n  "*": {sign_days: 5, dispose_days: 3}\n', 2,
         "sign_days (5) is after dispose_days (3)"),
        ('"*":\n  "*": {dispose_days: true}\n', 2,
         "dispose_days must be a whole number >= 0, got True"),
        ('"*":\n  "*": {dispose_days: "10"}\n', 2, "got '10'"),
        ('"*":\n  "*": {escalate_after_days: 0}\n', 2,
         "escalate_after_days must be a whole number >= 1"),
        ('"*": 15\n', 1, "'*' must map risk levels to terms"),
        ("", 1, "the policy must map category -> level -> terms"),
        ('"*":\n  "*": {dispose_days: 5}\n"*":\n  high: {}\n', 3, "duplicate key '*'"),
    ],
)  # fmt: skip
def test_a_bad_policy_names_the_line_and_the_fix(text: str, line: int, message: str) -> None:
    with pytest.raises(PolicyFileError) as info:
        parse_policy(text, "deploy/deadlines.yaml")

    assert str(info.value).startswith(f"deploy/deadlines.yaml:{line}: ")
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("variable", "text", "message"),
    [
        ("RISKLOOP_DEADLINE_POLICY_FILE", '"*":\n  "*": {dispose_days: -1}\n',
         ":2: dispose_days must be a whole number >= 0, got -1"),
        ("RISKLOOP_CALENDAR_FILE", "holidays: [2027-13-01]\n",
         ":1: '2027-13-01' is not a date: write days as YYYY-MM-DD"),
    ],
)  # fmt: skip
def test_a_bad_file_stops_the_api_at_start_up_with_its_message(
    tmp_path: Path, variable: str, text: str, message: str
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    env = {
        "PATH": "/usr/bin:/bin",
        variable: str(bad),
        "RISKLOOP_REDIS_URL": "redis://127.0.0.1:9/0",
    }

    run = subprocess.run(
        [sys.executable, "-m", "riskloop.cli", "api"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert run.returncode != 0
    assert f"{variable}: {bad}{message}" in run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.integration
@pytest.mark.anyio
async def test_editing_the_policy_moves_no_running_deadline(
    redis_client: aioredis.Redis, prefix: str, tmp_path: Path
) -> None:
    policy = tmp_path / "deadlines.yaml"
    policy.write_text('"*":\n  "*": {sign_days: 1, dispose_days: 10}\n')
    settings = Settings(api_bootstrap_tokens=TOKENS, deadline_policy_file=str(policy))
    store = ClueStore(redis_client, prefix)
    await store.upsert_warnings([make_warning("w1", "fp-old"), make_warning("w2", "fp-new")])
    old, new = clue_id("fp-old"), clue_id("fp-new")
    async with api(settings, redis_client, prefix, T0) as (_, client):
        before = await dispatch(client, old)

    policy.write_text('"*":\n  "*": {sign_days: 1, dispose_days: 3, max_extension_days: 2}\n')
    async with api(settings, redis_client, prefix, T0) as (app, client):
        after_new = await dispatch(client, new)
        await app.state.store.transition(
            old, "claim", ALICE, ms_of(2026, 3, 6, 9), {"lease_s": 86400}
        )
        await sla.tick(app.state.store, ms_of(2026, 3, 6, 9))  # past the new policy's 3 days
        asked = {"days": 5, "reason": "lab results"}  # more than the new policy allows
        extension = await app.state.store.transition(
            old, "request_extension", ALICE, ms_of(2026, 3, 6, 10), asked
        )
        kept = (await client.get(f"/clues/{old}", headers=SAM)).json()

    assert iso_local(before["due_ms"]) == "2026-03-16T23:59:59.999+08:00"  # 10 working days
    assert (kept["due_ms"], kept["sla"]["dispose_days"]) == (before["due_ms"], 10)
    assert kept["colour"] == "green"
    assert extension.ext_days == 5  # the clue's own terms: up to 15 days
    assert iso_local(after_new["due_ms"]) == "2026-03-05T23:59:59.999+08:00"  # 3 working days
