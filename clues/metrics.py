"""Prometheus metrics of the clue queue. The names are a contract with the dashboards.

=========================================  =========  ===================================
metric                                     type       labels
=========================================  =========  ===================================
``riskloop_clues``                         gauge      ``status`` (read from Redis per scrape)
``riskloop_clue_transitions_total``        counter    ``action`` (claim, expire, dispose)
``riskloop_clue_upserts_total``            counter    ``result`` (new, merged, duplicate)
``riskloop_api_request_seconds``           histogram  ``method``, ``route``, ``status``
=========================================  =========  ===================================

All live in prometheus_client's default registry, so a worker that imports this module and
calls ``record_upserts`` exports the upsert counter from its own metrics endpoint.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterable, Mapping

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest

from clues.model import STATUSES, TRANSITIONS

UPSERT_RESULTS = ("new", "merged", "duplicate")

CLUES = Gauge("riskloop_clues", "Clues in the queue, by status.", ["status"])
CLUE_TRANSITIONS = Counter(
    "riskloop_clue_transitions_total", "Clue state transitions, by action.", ["action"]
)
CLUE_UPSERTS = Counter(
    "riskloop_clue_upserts_total",
    "Warnings upserted into the clue queue, by result (new clue, merged, duplicate).",
    ["result"],
)
API_REQUEST_SECONDS = Histogram(
    "riskloop_api_request_seconds",
    "Clue API request duration in seconds.",
    ["method", "route", "status"],
)

# Series exist at zero from the start, so rate() works before the first event.
for _action in TRANSITIONS:
    if _action != "open":
        CLUE_TRANSITIONS.labels(_action)
for _result in UPSERT_RESULTS:
    CLUE_UPSERTS.labels(_result)

CONTENT_TYPE = CONTENT_TYPE_LATEST


def record_upserts(results: Iterable[str]) -> None:
    """Count the results of ``ClueStore.upsert_warnings`` (new / merged / duplicate)."""
    for result, n in Tally(results).items():
        CLUE_UPSERTS.labels(result).inc(n)


def record_transitions(actions: Iterable[str]) -> None:
    """Count transitions by action (the store calls this after each successful script)."""
    for action, n in Tally(actions).items():
        CLUE_TRANSITIONS.labels(action).inc(n)


def set_clue_counts(counts: Mapping[str, int]) -> None:
    """Set the ``riskloop_clues`` gauge from ``ClueStore.counts_by_status()``."""
    for status in STATUSES:
        CLUES.labels(status).set(counts.get(status, 0))


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    """Record one API request's duration."""
    API_REQUEST_SECONDS.labels(method, route, str(status)).observe(seconds)


def render() -> bytes:
    """The default registry in Prometheus text format."""
    return generate_latest(REGISTRY)
