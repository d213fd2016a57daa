"""Deadlines against a real Redis: colours advance by themselves, red raises a supervision
ticket, still red escalates, suspension freezes the clock. Literal times in UTC+8."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis
from clue_factories import ALICE, CENTRE, T0, make_warning

from clues import sla
from clues.api import create_app
from clues.model import clue_id
from clues.store import ClueStore
from clues.workdays import ms_of
from envelope.settings import Settings

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

# T0 is Monday 2026-03-02 09:15 (UTC+8); a medium market-supervision clue dispatched then is
# due at the end of 2026-03-23 (15 working days) and to be signed for by the end of 03-03.


async def dispatched(store: ClueStore) -> str:
    await store.upsert_warnings([make_warning("w1")])
    cid = clue_id("fp-1")
    await store.transition(cid, "dispatch", CENTRE, T0)
    return cid


async def colour_at(store: ClueStore, cid: str, now_ms: int) -> str | None:
    await sla.tick(store, now_ms)
    clue = await store.get(cid)
    assert clue is not None
    return clue.colour


async def test_colours_advance_with_the_working_day_calendar(store: ClueStore) -> None:
    cid = await dispatched(store)
    await store.transition(cid, "claim", ALICE, T0, {"lease_s": 7 * 24 * 3600})

    seen = [
        await colour_at(store, cid, ms_of(2026, 3, 10, 9)),
        await colour_at(store, cid, ms_of(2026, 3, 18, 9)),  # 19th, 20th, 23rd left: blue
        await colour_at(store, cid, ms_of(2026, 3, 23, 10)),  # due today
        await colour_at(store, cid, ms_of(2026, 3, 24, 0, 1)),  # overdue
    ]

    assert seen == ["green", "blue", "yellow", "red"]
    trail = [(e.action, e.reason) for e in await store.audit(cid) if e.action == "recolour"]
    assert trail == [("recolour", "green -> blue"), ("recolour", "blue -> yellow"),
                     ("recolour", "yellow -> red")]  # fmt: skip


async def test_entering_red_raises_a_ticket_and_staying_red_escalates(
    store: ClueStore, redis_client: aioredis.Redis, prefix: str
) -> None:
    cid = await dispatched(store)

    await colour_at(store, cid, ms_of(2026, 3, 24, 8))
    red = await store.get(cid)
    await colour_at(store, cid, ms_of(2026, 3, 26, 8))  # two working days red: not yet
    not_yet = await store.get(cid)
    await colour_at(store, cid, ms_of(2026, 3, 27, 8))  # three: escalate
    escalated = await store.get(cid)

    assert red is not None and red.colour == "red" and red.ticket_id is not None
    assert (red.escalation_level, not_yet.escalation_level) == (1, 1)  # type: ignore[union-attr]
    assert escalated is not None and escalated.escalation_level == 2
    ticket = await redis_client.hgetall(f"{prefix}:ticket:{red.ticket_id}")
    assert (ticket["clue_id"], ticket["status"], ticket["level"]) == (cid, "open", "2")
    assert ticket["department"] == "market-supervision"


async def test_rework_of_an_escalated_red_clue_keeps_its_level_and_red_since(
    store: ClueStore, redis_client: aioredis.Redis, prefix: str
) -> None:
    cid = await dispatched(store)
    await colour_at(store, cid, ms_of(2026, 3, 24, 8))  # red: level 1
    await colour_at(store, cid, ms_of(2026, 3, 27, 8))  # three working days red: level 2
    escalated = await store.get(cid)
    assert escalated is not None and escalated.escalation_level == 2
    at = ms_of(2026, 3, 27, 9)
    await store.transition(cid, "claim", ALICE, at, {"lease_s": 7 * 24 * 3600})
    await store.transition(cid, "dispose", ALICE, at + 1, {"code": "duplicate"})
    await store.transition(cid, "submit", ALICE, at + 2)
    await store.transition(cid, "reject", CENTRE, at + 3, {"reason": "redo the visit"})

    assert await colour_at(store, cid, ms_of(2026, 3, 27, 10)) == "red"  # red again at once
    reworked = await store.get(cid)

    assert reworked is not None and reworked.escalation_level == 2  # not back to 1
    assert reworked.red_since_ms == escalated.red_since_ms == ms_of(2026, 3, 24, 8)
    ticket = await redis_client.hgetall(f"{prefix}:ticket:{reworked.ticket_id}")
    assert (ticket["status"], ticket["level"]) == ("open", "2")
    # red since 03-24: six working days by 04-01 reach the next level, as if never disposed
    await colour_at(store, cid, ms_of(2026, 4, 1, 8))
    assert (await store.get(cid)).escalation_level == 3  # type: ignore[union-attr]


async def test_not_signed_for_by_the_sign_deadline_is_yellow(store: ClueStore) -> None:
    cid = await dispatched(store)

    assert await colour_at(store, cid, ms_of(2026, 3, 3, 18)) == "green"
    assert await colour_at(store, cid, ms_of(2026, 3, 4, 9)) == "yellow"


async def test_suspension_freezes_the_colour_and_disposal_closes_the_ticket(
    store: ClueStore, redis_client: aioredis.Redis, prefix: str
) -> None:
    cid = await dispatched(store)
    await store.transition(cid, "claim", ALICE, T0, {"lease_s": 7 * 24 * 3600})
    await store.transition(cid, "suspend", ALICE, T0 + 1, {"reason_code": "awaiting_test"})

    assert await colour_at(store, cid, ms_of(2026, 4, 1, 9)) == "green"  # frozen, not red
    resumed = await store.transition(cid, "resume", ALICE, ms_of(2026, 4, 1, 9))
    assert await colour_at(store, cid, ms_of(2026, 4, 1, 9)) == "green"  # deadline moved
    assert resumed.due_ms is not None and resumed.due_ms > ms_of(2026, 4, 1, 9)

    red_at = resumed.due_ms + 1
    assert await colour_at(store, cid, red_at) == "red"
    ticket_id = (await store.get(cid)).ticket_id  # type: ignore[union-attr]
    await store.transition(cid, "claim", ALICE, red_at)  # her lease had run out meanwhile
    disposed = await store.transition(cid, "dispose", ALICE, red_at + 1, {"code": "duplicate"})

    assert disposed.colour is None
    assert await redis_client.hget(f"{prefix}:ticket:{ticket_id}", "status") == "closed"
    assert await redis_client.zscore(f"{prefix}:sla", cid) is None


async def test_the_api_ticker_advances_colours_with_nothing_else_happening(
    redis_client: aioredis.Redis, prefix: str, store: ClueStore
) -> None:
    cid = await dispatched(store)
    now = {"ms": ms_of(2026, 3, 5, 9)}
    app = create_app(
        Settings(), redis_client, prefix=prefix, clock=lambda: now["ms"], publish=False, tick_s=0.05
    )

    async with app.router.lifespan_context(app):
        now["ms"] = ms_of(2026, 3, 24, 9)
        for _ in range(100):
            clue = await store.get(cid)
            if clue is not None and clue.colour == "red":
                break
            await asyncio.sleep(0.05)

    assert clue is not None and clue.colour == "red" and clue.ticket_id
