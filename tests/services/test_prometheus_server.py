"""Prometheus started by riskloop.services scrapes a real /metrics endpoint and answers queries."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Counter, start_http_server

from riskloop.services import ServiceGroup, free_port, start_prometheus

# Prometheus applies new scrape targets on a 5 s tick, so the first sample takes ~5 s.
pytestmark = [pytest.mark.integration, pytest.mark.slow]


def query(base_url: str, promql: str) -> list[dict[str, Any]]:
    url = f"{base_url}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url, timeout=5) as resp:
        body = json.load(resp)
    assert body["status"] == "success", body
    return list(body["data"]["result"])


def test_prometheus_scrapes_an_exporter_and_answers_instant_queries(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    events = Counter("riskloop_probe_events", "Events seen by the probe", registry=registry)
    events.inc(7)
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    try:
        with ServiceGroup(tmp_path) as group:
            prom = group.add(
                start_prometheus(group.workdir("prom"), {"probe": [f"127.0.0.1:{port}"]})
            )
            deadline = time.monotonic() + 20
            result = query(prom.url, "riskloop_probe_events_total")
            while not result and time.monotonic() < deadline:
                time.sleep(0.2)
                result = query(prom.url, "riskloop_probe_events_total")
            up = query(prom.url, 'up{job="probe"}')
    finally:
        server.shutdown()
        thread.join(5)

    assert [(r["metric"]["job"], r["metric"]["instance"], r["value"][1]) for r in result] == [
        ("probe", f"127.0.0.1:{port}", "7")
    ]
    assert [r["value"][1] for r in up] == ["1"]
