"""Every dashboard panel's PromQL returns data from a real Prometheus (the Debian package)
scraping the live worker and API. Grafana itself cannot run here; its queries can."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from e2e_support import BAD_REGION, http_json, send_raw, wait_for

from dashboards.panels import panel_queries
from envelope.topics import TOPIC_REGULATORY
from riskloop.services import ServiceGroup, start_prometheus

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DASHBOARDS = sorted((Path(__file__).resolve().parents[2] / "dashboards").glob("riskloop-*.json"))


def query(prom_url: str, expr: str) -> dict:
    url = f"{prom_url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())


def exercise(stack) -> None:
    """One claim, one disposal and one malformed event, so every series exists."""
    send_raw(stack.broker.bootstrap, TOPIC_REGULATORY, [b"{malformed"], key=BAD_REGION.encode())
    api = stack.api.url
    centre, inspector = stack.tokens["dispatcher"], stack.tokens["inspector-9"]
    clue = http_json("GET", f"{api}/clues?status=new&limit=1", token=centre)["items"][0]
    url = f"{api}/clues/{clue['id']}"
    http_json("POST", f"{url}/dispatch", {}, token=centre)
    http_json("POST", f"{url}/claim", {}, token=inspector)
    body = {
        "code": "rectified",
        "note": "ok",
        "evidence_refs": [{"uri": "https://files.example/fix.jpg"}],
    }
    http_json("POST", f"{url}/dispose", body, token=inspector)


def empty_panels(prom_url: str, queries: dict[str, str]) -> dict[str, str]:
    """Panels whose query returns no series right now (with the error, if one came back)."""
    empty = {}
    for name, expr in queries.items():
        try:
            if not query(prom_url, expr)["data"]["result"]:
                empty[name] = f"{expr}: no data"
        except OSError as exc:  # HTTP 400 for a PromQL syntax or type error
            empty[name] = f"{expr}: {exc}"
    return empty


def test_every_panel_query_returns_data(stack, replayed, services_dir):
    assert len(DASHBOARDS) >= 4
    exercise(stack)
    queries = {
        f"{path.name} / {title}": expr
        for path in DASHBOARDS
        for title, expr in panel_queries(json.loads(path.read_text()), rate_interval="1m")
    }
    scrape = {
        "riskloop-worker": [f"127.0.0.1:{stack.worker.port}"],
        "riskloop-api": [f"127.0.0.1:{stack.api.port}"],
    }
    with ServiceGroup(services_dir / "prometheus") as group:
        prom = group.add(start_prometheus(group.workdir("prom"), scrape))
        wait_for(lambda: query(prom.url, "up")["data"]["result"], 30, "a first scrape")
        deadline = time.monotonic() + 60
        while (empty := empty_panels(prom.url, queries)) and time.monotonic() < deadline:
            time.sleep(2)
        assert len(queries) >= 20
        assert not empty, "panels without data:\n" + "\n".join(
            f"{k}: {v}" for k, v in empty.items()
        )
