"""Every panel of the supervisor dashboard, run against the real clue API: each Infinity
target's URL and parameters (Grafana's time range as epoch ms), with the header the
provisioned data source sends and the token docker-compose gives the API, returns rows that
hold every column the panel reads, with values. Grafana cannot run here; its queries can."""

from __future__ import annotations

import asyncio
import json
import re
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis
import yaml
from dashboard_checks import DATASOURCES_YAML, REPO, content_panels

from clues import sla
from clues.access import Principal
from clues.model import clue_id
from clues.store import ClueStore
from envelope.events import RiskWarning
from riskloop.services import ServiceGroup, start_api

BOARD = json.loads((REPO / "dashboards" / "riskloop-supervisor.json").read_text("utf-8"))
DAY_MS = 86_400_000
CENTRE = Principal("centre", "supervisor")
INSPECTOR = Principal("ina", "inspector", ("market-supervision",), None)
EVIDENCE = [{"uri": "file:///site/photo.jpg"}]


def compose_default(text: str) -> str:
    """``${VAR:-default}`` as docker-compose expands it when VAR is unset."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", text)


def views_datasource() -> dict[str, Any]:
    doc = yaml.safe_load(DATASOURCES_YAML.read_text("utf-8"))
    return next(d for d in doc["datasources"] if d["uid"] == "riskloop-views")


def compose_env(service: str) -> dict[str, str]:
    doc = yaml.safe_load((REPO / "docker-compose.yml").read_text("utf-8"))
    return {k: compose_default(str(v)) for k, v in doc["services"][service]["environment"].items()}


def auth_header() -> tuple[str, str]:
    """The header the provisioned data source sends, with Grafana's token from compose."""
    ds = views_datasource()
    token = compose_env("grafana")["RISKLOOP_GRAFANA_TOKEN"]
    value = ds["secureJsonData"]["httpHeaderValue1"].replace("$RISKLOOP_GRAFANA_TOKEN", token)
    return ds["jsonData"]["httpHeaderName1"], value


def warning(wid: str, fp: str, ts_ms: int, **kw: Any) -> RiskWarning:
    fields: dict[str, Any] = {
        "id": wid,
        "fingerprint": fp,
        "rule_id": "approval-overdue",
        "rule_version": 1,
        "logic_hash": "lh",
        "severity": "medium",
        "title": "approval overdue",
        "key": f"A-{fp}",
        "ts_ms": ts_ms,
        "region": "330106",
        "department": "market-supervision",
    }
    return RiskWarning(**{**fields, **kw})


async def seed(redis_url: str, now: int) -> None:
    """Warnings this month and last, an official and an enterprise coming back, a closed
    confirmed clue and two red ones."""
    ws = [warning(f"w-{d}", f"fp-{d}", now - d * DAY_MS) for d in range(0, 50, 2)]
    ws += [warning(f"w-hi-{d}", f"hi-{d}", now - d * DAY_MS, severity="high", region="330108")
           for d in (1, 5)]  # fmt: skip
    ws += [warning(f"w-off-{d}", "off", now - d * DAY_MS, rule_id="approver-anomaly", key="off-3")
           for d in (1, 4)]  # fmt: skip
    ws += [warning(f"w-ent-{d}", "ent", now - d * DAY_MS, rule_id="dereg-after-finding",
                   key="91330106MA2B") for d in (2, 3)]  # fmt: skip
    client = aioredis.from_url(redis_url, decode_responses=True)
    try:
        store = ClueStore(client)
        await store.upsert_warnings(ws)
        done = clue_id("fp-2")
        for action, who, args in (
            ("dispatch", CENTRE, {}),
            ("claim", INSPECTOR, {}),
            ("dispose", INSPECTOR, {"code": "rectified", "evidence_refs": EVIDENCE}),
            ("submit", INSPECTOR, {}),
            ("approve", CENTRE, {}),
        ):
            await store.transition(done, action, who, now, args)
        for fp in ("fp-10", "fp-12"):
            await store.transition(clue_id(fp), "dispatch", CENTRE, now - 60 * DAY_MS)
        await sla.tick(store, now)
    finally:
        await client.aclose()


@pytest.fixture(scope="module")
def views_api(redis_url: str, services_dir: Path) -> Iterator[str]:
    """``riskloop api`` with docker-compose's token spec, over a Redis database of its own,
    seeded; its URL."""
    url = redis_url.rsplit("/", 1)[0] + "/9"
    redis.Redis.from_url(url).flushdb()
    env = {
        "RISKLOOP_REDIS_URL": url,
        "RISKLOOP_API_BOOTSTRAP_TOKENS": compose_env("api")["RISKLOOP_API_BOOTSTRAP_TOKENS"],
        "RISKLOOP_BROKER": "kafka://127.0.0.1:9",  # nothing there: the outbox waits
    }
    with ServiceGroup(services_dir / f"views-api-{uuid.uuid4().hex[:6]}") as group:
        api = group.add(start_api(group.workdir("api"), env))
        asyncio.run(seed(url, int(time.time() * 1000)))
        yield api.url
    redis.Redis.from_url(url).flushdb()


def run_target(
    api_url: str, target: dict[str, Any], from_ms: int, to_ms: int, **variables: str
) -> Any:
    """GET the target as Grafana would: time macros and the dashboard's variables (their
    defaults unless given) substituted."""
    macros = {"${__from}": str(from_ms), "${__to}": str(to_ms)}
    for var in BOARD["templating"]["list"]:
        macros["${" + var["name"] + "}"] = variables.get(var["name"], var["current"]["value"])
    params = [
        (p["key"], macros.get(p["value"], p["value"])) for p in target["url_options"]["params"]
    ]
    url = api_url + target["url"] + "?" + urllib.parse.urlencode(params)
    name, value = auth_header()
    req = urllib.request.Request(url, headers={name: value}, method=target["url_options"]["method"])
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def missing(rows: list[dict[str, Any]], columns: list[dict[str, str]]) -> list[str]:
    """Columns no row holds a value of the column's type for."""
    kinds = {"string": (str,), "number": (int, float), "timestamp_epoch": (int,)}
    return [
        c["selector"]
        for c in columns
        if not any(isinstance(r.get(c["selector"]), kinds[c["type"]]) for r in rows)
    ]


def test_the_targets_query_the_provisioned_views_data_source() -> None:
    ds = views_datasource()
    targets = [t for p in content_panels(BOARD) for t in p["targets"]]

    assert ds["type"] == "yesoreyeram-infinity-datasource"
    assert ds["type"] in compose_env("grafana")["GF_INSTALL_PLUGINS"].split(",")
    assert ds["url"] in ds["jsonData"]["allowedHosts"]
    assert len(targets) >= 12
    assert {(t["datasource"]["uid"], t["datasource"]["type"]) for t in targets} == {
        ("riskloop-views", ds["type"])
    }
    assert all(t["url"].startswith("/views/") for t in targets)


def test_every_panel_query_returns_its_columns_from_the_real_api(views_api: str) -> None:
    to_ms = int(time.time() * 1000) + DAY_MS
    from_ms = to_ms - 30 * DAY_MS
    empty: dict[str, str] = {}
    checked = 0
    for panel in content_panels(BOARD):
        for target in panel["targets"]:
            body = run_target(views_api, target, from_ms, to_ms)
            rows = body if isinstance(body, list) else [body]
            gaps = missing(rows, target["columns"])
            if not rows or gaps:
                empty[panel["title"]] = f"{target['url']}: {len(rows)} rows, no value for {gaps}"
            checked += 1
    assert checked >= 12
    assert not empty, "panels without data:\n" + "\n".join(f"{k}: {v}" for k, v in empty.items())


def test_the_time_range_decides_what_the_panels_count(views_api: str) -> None:
    summary = next(
        t
        for p in content_panels(BOARD)
        for t in p["targets"]
        if t["url"] == "/views/summary" and t["columns"][0]["selector"] == "warnings"
    )
    now = int(time.time() * 1000)

    month = run_target(views_api, summary, now - 29 * DAY_MS, now)
    week = run_target(views_api, summary, now - 6 * DAY_MS, now)

    assert month["warnings"] == 15 + 2 + 2 + 2  # every other day, high, official, enterprise
    assert week["warnings"] == 4 + 2 + 2 + 2
    assert week["previous_warnings"] == 3  # the week before: days 8, 10 and 12


def test_the_district_and_department_boxes_narrow_the_panels(views_api: str) -> None:
    by_region = next(
        t for p in content_panels(BOARD) for t in p["targets"] if t["url"] == "/views/by/region"
    )
    now = int(time.time() * 1000)

    every = run_target(views_api, by_region, now - 29 * DAY_MS, now)
    one = run_target(views_api, by_region, now - 29 * DAY_MS, now, region="330108")
    other = run_target(views_api, by_region, now - 29 * DAY_MS, now, department="housing")

    assert {r["name"] for r in every} == {"330106", "330108"}
    assert [(r["name"], r["warnings"]) for r in one] == [("330108", 2)]
    assert other == []
