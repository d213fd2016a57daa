"""The supervisor's event-time views over ASGI, on a real Redis: warnings counted on the
local day they happened (not when they were processed), once each, inside the caller's scope,
against the previous period; precision from closed verdicts; recurring officials shown
pseudonymised; red clues with a link to the inspector page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from clue_factories import ALICE, CENTRE, dispose_clue, make_warning
from fastapi import FastAPI

from clues import sla
from clues.access import Principal
from clues.api import create_app
from clues.model import clue_id
from clues.store import ClueStore
from clues.workdays import ms_of
from envelope.events import RiskWarning
from envelope.settings import Settings

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

NOW = ms_of(2026, 5, 20, 10)  # every deadline of March has passed
TOKENS = (
    "t-sam=sam:supervisor:*:* t-alice=alice:inspector:market-supervision:3301"
    " t-west=wes:supervisor:*:3302 t-east=eve:supervisor:*:3303"
)
SAM, ALICE_H, WEST, EAST = (
    {"Authorization": f"Bearer t-{n}"} for n in ("sam", "alice", "west", "east")
)
MARCH = {"from": "2026-03-01", "to": "2026-03-07"}


@pytest.fixture
async def app(redis_client: aioredis.Redis, prefix: str) -> AsyncIterator[FastAPI]:
    settings = Settings(api_bootstrap_tokens=TOKENS)
    app = create_app(settings, redis_client, prefix=prefix, clock=lambda: NOW, publish=False)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://clues.test") as c:
        yield c


def warning(n: int, fp: str, ts_ms: int, **kw: Any) -> RiskWarning:
    return make_warning(f"w-{fp}-{n}", fp, ts_ms=ts_ms, **kw)


# Two districts, a week in March and one day in the week before, sent in one batch in an
# order unlike their event time; 01:00 local on 3 March is still 2 March in UTC.
WEEK = [
    warning(1, "a", ms_of(2026, 3, 3, 1)),
    warning(2, "a", ms_of(2026, 3, 3, 15)),
    warning(1, "b", ms_of(2026, 3, 1, 9), severity="high"),
    warning(1, "c", ms_of(2026, 3, 5, 9), region="330206", department="housing"),
    warning(1, "old", ms_of(2026, 2, 25, 9)),
    warning(1, "old2", ms_of(2026, 2, 26, 9)),
]


async def get(client: httpx.AsyncClient, path: str, who: dict[str, str], **params: str) -> Any:
    r = await client.get(path, headers=who, params=params)
    assert r.status_code == 200, r.text
    return r.json()


async def test_warnings_are_counted_on_their_local_event_day_once_each(
    client: httpx.AsyncClient, store: ClueStore
) -> None:
    await store.upsert_warnings(WEEK)
    await store.upsert_warnings(WEEK)  # a batch re-sent after a crash counts nothing more

    days = await get(client, "/views/daily", SAM, **MARCH)

    assert [d["day"] for d in days][:3] == ["2026-03-01", "2026-03-02", "2026-03-03"]
    assert {d["day"]: d["warnings"] for d in days if d["warnings"]} == {
        "2026-03-01": 1,
        "2026-03-03": 2,  # one clue, two warnings merged on the same day
        "2026-03-05": 1,
    }
    assert {d["day"]: d["clues"] for d in days if d["clues"]} == {
        "2026-03-01": 1,
        "2026-03-03": 1,
        "2026-03-05": 1,
    }
    # the previous week lines up day by day: 25 Feb is the 4th day before 1 March's week
    assert [d["previous_warnings"] for d in days] == [0, 0, 0, 1, 1, 0, 0]


async def _view_counters(store: ClueStore) -> dict[str, Any]:
    out: dict[str, Any] = {}
    async for k in store.redis.scan_iter(match=f"{store.prefix}:views:*", count=1000):
        if await store.redis.type(k) == "hash":
            out[k[len(store.prefix) :]] = await store.redis.hgetall(k)  # type: ignore[misc]
        else:
            out[k[len(store.prefix) :]] = await store.redis.zrange(k, 0, -1, withscores=True)
    return out


async def test_a_clue_of_many_warnings_in_one_batch_counts_each_on_its_day_and_severity(
    client: httpx.AsyncClient, store: ClueStore, redis_client: aioredis.Redis
) -> None:
    """The sink writes a clue's warnings of a batch as one step; the views count them as if
    they had come one by one in event-time order: each on its own day, with the clue's
    severity after it."""
    late = [
        warning(3, "a", ms_of(2026, 3, 4, 23, 59), severity="low"),
        warning(4, "a", ms_of(2026, 3, 3, 8), severity="high"),  # raises the clue
        warning(5, "a", ms_of(2026, 3, 5, 0, 1), severity="low"),  # after midnight local
        warning(2, "b", ms_of(2026, 3, 1, 10)),
    ]
    batch = [*WEEK, *late, late[0], WEEK[0]]  # the same warnings again inside the batch
    twin = ClueStore(redis_client, f"{store.prefix}-twin")
    try:
        await store.upsert_warnings(batch)
        for w in sorted(batch, key=lambda w: w.ts_ms):
            await twin.upsert_warnings([w])
        one_by_one = await _view_counters(twin)
    finally:
        await redis_client.unlink(*[k async for k in redis_client.scan_iter(f"{twin.prefix}:*")])

    assert await _view_counters(store) == one_by_one
    days = await get(client, "/views/daily", SAM, **MARCH)
    assert {d["day"]: d["warnings"] for d in days if d["warnings"]} == {
        "2026-03-01": 2,
        "2026-03-03": 3,
        "2026-03-04": 1,
        "2026-03-05": 2,
    }
    # clue a opened at 01:00 on 3 March (medium), went high at 08:00 and stayed high
    a = "\x1f330106\x1fmarket-supervision\x1fapproval.overdue\x1f"
    march_3 = (ms_of(2026, 3, 3) + 8 * 3_600_000) // 86_400_000  # days since 1970, local
    counted = [one_by_one[f":views:day:{march_3 + n}"] for n in range(3)]
    assert [{k: v for k, v in day.items() if k[1:].startswith(a)} for day in counted] == [
        {f"w{a}medium": "1", f"c{a}medium": "1", f"w{a}high": "2"},
        {f"w{a}high": "1"},
        {f"w{a}high": "1"},
    ]


async def test_totals_trend_and_breakdowns_against_the_previous_period(
    client: httpx.AsyncClient, store: ClueStore
) -> None:
    await store.upsert_warnings(WEEK)

    s = await get(client, "/views/summary", SAM, **MARCH)
    regions = await get(client, "/views/by/region", SAM, **MARCH)
    severities = await get(client, "/views/by/severity", SAM, **MARCH)

    assert (s["warnings"], s["clues"], s["previous_warnings"]) == (4, 3, 2)
    assert s["warnings_change_pct"] == 100.0
    assert (s["previous_from"], s["previous_to"]) == ("2026-02-22", "2026-02-28")
    assert [(r["name"], r["warnings"], r["previous_warnings"]) for r in regions] == [
        ("330106", 3, 2),
        ("330206", 1, 0),
    ]
    assert regions[1]["change_pct"] is None  # nothing before: no percentage to show
    assert {r["name"]: r["warnings"] for r in severities} == {"medium": 3, "high": 1}


async def test_each_caller_sees_only_the_departments_and_regions_of_their_scope(
    client: httpx.AsyncClient, store: ClueStore
) -> None:
    await store.upsert_warnings(WEEK)

    alice = await get(client, "/views/by/department", ALICE_H, **MARCH)
    west = await get(client, "/views/summary", WEST, **MARCH)
    east = await get(client, "/views/summary", EAST, **MARCH)
    narrowed = await get(client, "/views/summary", SAM, department="housing", **MARCH)

    assert [(r["name"], r["warnings"]) for r in alice] == [("market-supervision", 3)]
    assert (west["warnings"], west["clues"]) == (1, 1)  # city 3302: 330206 only
    assert (east["warnings"], east["clues"]) == (0, 0)  # city 3303 has nothing
    assert narrowed["warnings"] == 1


async def test_without_dates_the_views_cover_the_30_days_to_the_newest_counted(
    client: httpx.AsyncClient, store: ClueStore
) -> None:
    await store.upsert_warnings(WEEK)

    s = await get(client, "/views/summary", SAM)

    assert (s["from"], s["to"]) == ("2026-02-04", "2026-03-05")
    assert s["warnings"] == 6


async def test_precision_per_rule_comes_from_closed_verdicts(
    client: httpx.AsyncClient, store: ClueStore
) -> None:
    await store.upsert_warnings(WEEK)
    at = ms_of(2026, 3, 9, 9)
    await dispose_clue(store, clue_id("a"), "rectified", at)
    await store.transition(clue_id("a"), "submit", ALICE, at + 3)
    await store.transition(clue_id("a"), "approve", CENTRE, at + 4)
    await store.transition(clue_id("b"), "dismiss", CENTRE, at, {"code": "duplicate"})
    hana = Principal("hana", "inspector", ("housing",), None)
    await dispose_clue(store, clue_id("c"), "rectified", at, who=hana)  # not closed yet

    rows = await get(client, "/views/precision", SAM, **MARCH)
    s = await get(client, "/views/summary", SAM, **MARCH)

    assert rows == [
        {
            "rule": "approval.overdue",
            "closed": 2,
            "confirmed": 1,
            "dismissed": 1,
            "precision": 0.5,
        }
    ]
    assert (s["closed"], s["confirmed"], s["precision"]) == (2, 1, 0.5)


async def test_a_verdict_sent_back_for_rework_counts_once_when_the_clue_closes(
    client: httpx.AsyncClient, store: ClueStore
) -> None:
    await store.upsert_warnings(WEEK)
    cid, at = clue_id("a"), ms_of(2026, 3, 9, 9)
    await dispose_clue(store, cid, "false_positive", at)
    await store.transition(cid, "submit", ALICE, at + 3)
    await store.transition(cid, "reject", CENTRE, at + 4, {"reason": "visit the site"})
    args = {"code": "rectified", "evidence_refs": [{"uri": "file:///site/p.jpg"}]}
    await store.transition(cid, "dispose", ALICE, at + 5, args)
    await store.transition(cid, "submit", ALICE, at + 6)
    await store.transition(cid, "approve", CENTRE, at + 7)

    rows = await get(client, "/views/precision", SAM, **MARCH)

    assert [(r["closed"], r["confirmed"], r["dismissed"]) for r in rows] == [(1, 1, 0)]


async def test_recurring_officials_are_pseudonymised_and_ranked_by_days_back(
    client: httpx.AsyncClient, store: ClueStore
) -> None:
    ws = [
        warning(d, "off-7", ms_of(2026, 3, d, 23), rule_id="approver-anomaly", key="off-7")
        for d in (1, 2, 4)
    ] + [warning(1, "off-9", ms_of(2026, 3, 2, 9), rule_id="approver-anomaly", key="off-9")]
    ws.append(warning(1, "ent", ms_of(2026, 3, 2, 9), rule_id="dereg-after-finding", key="9133X"))
    await store.upsert_warnings(ws)

    officials = await get(client, "/views/recurring/officials", SAM, **MARCH)
    entities = await get(client, "/views/recurring/entities", SAM, **MARCH)

    assert [(r["days"], r["warnings"], r["rule"]) for r in officials] == [
        (3, 3, "approver-anomaly"),
        (1, 1, "approver-anomaly"),
    ]
    assert all(r["subject"].startswith("pid-") for r in officials)
    assert "off-7" not in str(officials)
    assert (officials[0]["first_day"], officials[0]["last_day"]) == ("2026-03-01", "2026-03-04")
    assert [r["subject"] for r in entities] == ["9133X"]  # an enterprise is not a person


async def test_red_clues_are_listed_longest_overdue_first_with_a_link(
    client: httpx.AsyncClient, store: ClueStore
) -> None:
    await store.upsert_warnings(WEEK)
    for fp, at in (("a", ms_of(2026, 3, 3, 9)), ("c", ms_of(2026, 3, 5, 9))):
        await store.transition(clue_id(fp), "dispatch", CENTRE, at)
    await sla.tick(store, NOW)

    rows = await get(client, "/views/overdue", SAM)
    alices = await get(client, "/views/overdue", ALICE_H)
    blank = await get(client, "/views/overdue", SAM, region="", department="")  # empty boxes
    s = await get(client, "/views/summary", SAM, **MARCH)

    assert [r["id"] for r in rows] == [clue_id("a"), clue_id("c")]
    assert rows[0]["link"] == f"/ui#clue={clue_id('a')}"
    assert rows[0]["overdue_days"] > rows[1]["overdue_days"] > 0
    assert "ph-7f3a" not in str(rows)  # the applicant in the title/key stays pseudonymised
    assert [r["id"] for r in alices] == [clue_id("a")]  # housing's clue is not hers
    assert blank == rows
    assert s["red"] == 2


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"from": "March", "to": "2026-03-07"}, "from 'March': give a date like 2026-03-01"),
        ({"from": "2026-03-07", "to": "2026-03-01"}, "is after to 2026-03-01"),
        ({"from": "2020-01-01", "to": "2026-03-01"}, "over 400 days"),
    ],
)
async def test_a_bad_period_is_a_422_that_says_what_to_send(
    client: httpx.AsyncClient, params: dict[str, str], says: str
) -> None:
    r = await client.get("/views/summary", headers=SAM, params=params)

    assert r.status_code == 422
    assert says in r.json()["detail"]


async def test_the_views_need_a_token(client: httpx.AsyncClient) -> None:
    r = await client.get("/views/summary")

    assert r.status_code == 401


def test_the_lua_day_is_envelope_time_local_day() -> None:
    from clues.scripts import lua_source
    from envelope.time import CST_OFFSET_MS, DAY_MS

    assert f"VIEWS_TZ_MS, VIEWS_DAY_MS = 8 * 3600000, {DAY_MS}" in lua_source("views")
    assert CST_OFFSET_MS == 8 * 3600000
