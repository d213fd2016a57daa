"""Prometheus metrics of the clue queue. The names are a contract with the dashboards.

In-process (counted as things happen in this process):

=============================================  =========  =================================
metric                                         type       labels
=============================================  =========  =================================
``riskloop_clue_transitions_total``            counter    ``action``
``riskloop_clue_upserts_total``                counter    ``result`` (new, merged, duplicate)
``riskloop_api_request_seconds``               histogram  ``method``, ``route``, ``status``
``riskloop_clue_time_to_claim_seconds``        histogram  (dispatch -> first claim)
``riskloop_clue_time_to_dispose_seconds``      histogram  (dispatch -> first disposal, pauses
                                                          out; once per clue: rework is
                                                          ``riskloop_clue_rework_total``)
=============================================  =========  =================================

Read from Redis on every scrape (durable, exact across API restarts and instances):

=============================================  =========  =================================
``riskloop_clues``                             gauge      ``status``
``riskloop_clue_backlog``                      gauge      ``status``, ``colour`` ("" = none)
``riskloop_clue_deadlines_total``              counter    ``stage`` (sign, dispose,
                                                          dispose_unpaused), ``result``
                                                          (on_time, late)
``riskloop_clue_on_time_ratio``                gauge      ``stage``
``riskloop_clue_returns_total``                counter    ``reason``
``riskloop_clue_rework_total``                 counter
``riskloop_clue_lease_expired_total``          counter
``riskloop_clue_paused_seconds_total``         counter    (suspension time, reported apart)
``riskloop_clue_suspensions_total``            counter    ``reason``
``riskloop_clue_extensions_total``             counter    ``decision``
``riskloop_clue_supervision_tickets_total``    counter    ``reason`` (overdue, rework)
``riskloop_clue_escalations_total``            counter
``riskloop_clue_closed_total``                 counter    ``rule``, ``code``, ``outcome``
``riskloop_clue_rule_precision``               gauge      ``rule`` (closed confirmed /
                                                          closed confirmed + dismissed)
=============================================  =========  =================================

All live in prometheus_client's default registry, so a worker that imports this module and
calls ``record_upserts`` exports the upsert counter from its own metrics endpoint.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from clues.model import DISPOSITION_CODES, STATUSES, TRANSITIONS
from clues.records import Clue

UPSERT_RESULTS = ("new", "merged", "duplicate")
_DURATION_BUCKETS = (60, 600, 3600, 4 * 3600, 86400, 3 * 86400, 7 * 86400, 15 * 86400, 30 * 86400)

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
TIME_TO_CLAIM = Histogram(
    "riskloop_clue_time_to_claim_seconds",
    "From dispatch to an inspector's first claim (签收时长).",
    buckets=_DURATION_BUCKETS,
)
TIME_TO_DISPOSE = Histogram(
    "riskloop_clue_time_to_dispose_seconds",
    "From dispatch to a clue's first disposal, suspended time left out (处置时长); a"
    " disposal redone after review is not observed again (see riskloop_clue_rework_total).",
    buckets=_DURATION_BUCKETS,
)

# Series exist at zero from the start, so rate() works before the first event.
for _action in TRANSITIONS:
    if TRANSITIONS[_action].roles or _action in ("expire", "recolour", "escalate_overdue"):
        CLUE_TRANSITIONS.labels(_action)
for _result in UPSERT_RESULTS:
    CLUE_UPSERTS.labels(_result)

CONTENT_TYPE = CONTENT_TYPE_LATEST


def record_upserts(results: Iterable[str]) -> None:
    """Count the results of ``ClueStore.upsert_warnings`` (new / merged / duplicate)."""
    for result, n in Tally(results).items():
        CLUE_UPSERTS.labels(result).inc(n)


def record_transitions(actions: Iterable[str]) -> None:
    """Count transitions by action."""
    for action, n in Tally(actions).items():
        CLUE_TRANSITIONS.labels(action).inc(n)


def record_transition(action: str, after: Clue, expired: bool = False) -> None:
    """Count one successful step and observe the durations it completes."""
    record_transitions(["expire", action] if expired else [action])
    first_claim = after.first_claimed_ms is not None and after.first_claimed_ms == after.claimed_ms
    if action == "claim" and first_claim and after.dispatched_ms is not None:
        TIME_TO_CLAIM.observe(max(0, (after.claimed_ms or 0) - after.dispatched_ms) / 1000)
    # once per clue: a disposal redone after review (rework) is counted by the rework total
    if action == "dispose" and after.rework_count == 0:
        _observe_disposal(after)


def _observe_disposal(after: Clue) -> None:
    if after.dispatched_ms is not None and after.disposed_ms:
        spent = after.disposed_ms - after.dispatched_ms - after.paused_ms
        TIME_TO_DISPOSE.observe(max(0, spent) / 1000)


def set_clue_counts(counts: Mapping[str, int]) -> None:
    """Set the ``riskloop_clues`` gauge from ``ClueStore.counts_by_status()``."""
    for status in STATUSES:
        CLUES.labels(status).set(counts.get(status, 0))


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    """Record one API request's duration."""
    API_REQUEST_SECONDS.labels(method, route, str(status)).observe(seconds)


def _ratio(stats: Mapping[str, int], stage: str) -> float | None:
    on, late = stats.get(f"{stage}|on_time", 0), stats.get(f"{stage}|late", 0)
    return on / (on + late) if on + late else None


class RedisStats(Collector):
    """Exports the durable counters the Lua steps keep in Redis, as of the last ``update``."""

    def __init__(self) -> None:
        self.stats: dict[str, int] = {}
        self.backlog: dict[str, int] = {}
        self.dispositions: dict[str, int] = {}

    def update(self, stats: Mapping[str, int], backlog: Mapping[str, int],
               dispositions: Mapping[str, int]) -> None:  # fmt: skip
        self.stats, self.backlog, self.dispositions = (
            dict(stats),
            dict(backlog),
            dict(dispositions),
        )

    def collect(self) -> Iterator[Any]:
        s = self.stats
        backlog = GaugeMetricFamily(
            "riskloop_clue_backlog",
            "Clues by status and deadline colour.",
            labels=["status", "colour"],
        )
        for k, n in sorted(self.backlog.items()):
            status, _, colour = k.partition("|")
            if n:
                backlog.add_metric([status, colour], n)
        yield backlog
        deadlines = CounterMetricFamily(
            "riskloop_clue_deadlines",
            "Deadlines met or missed: sign (first claim), dispose (at close), dispose_unpaused"
            " (as if suspended time had counted).",
            labels=["stage", "result"],
        )
        ratio = GaugeMetricFamily(
            "riskloop_clue_on_time_ratio", "Share of deadlines met, by stage.", labels=["stage"]
        )
        for stage in ("sign", "dispose", "dispose_unpaused"):
            for result in ("on_time", "late"):
                deadlines.add_metric([stage, result], s.get(f"{stage}|{result}", 0))
            r = _ratio(s, stage)
            if r is not None:
                ratio.add_metric([stage], r)
        yield deadlines
        yield ratio
        yield from self._by_prefix()
        yield from self._plain()
        yield from self._precision()

    def _by_prefix(self) -> Iterator[Any]:
        for prefix, name, label, doc in (
            ("returns", "riskloop_clue_returns", "reason", "Returns (退单) by reason code."),
            ("suspensions", "riskloop_clue_suspensions", "reason", "Suspensions by reason."),
            ("extensions", "riskloop_clue_extensions", "decision", "Extension decisions."),
            ("tickets", "riskloop_clue_supervision_tickets", "reason", "Supervision tickets."),
        ):
            m = CounterMetricFamily(name, doc, labels=[label])
            for k, n in sorted(self.stats.items()):
                if k.startswith(prefix + "|"):
                    m.add_metric([k.split("|", 1)[1]], n)
            yield m

    def _plain(self) -> Iterator[Any]:
        s = self.stats
        yield CounterMetricFamily(
            "riskloop_clue_rework", "Reviews that sent work back (重办).", value=s.get("rework", 0)
        )
        yield CounterMetricFamily(
            "riskloop_clue_lease_expired",
            "Claims whose lease ran out.",
            value=s.get("lease_expired", 0),
        )
        yield CounterMetricFamily(
            "riskloop_clue_paused_seconds",
            "Time clues spent suspended (deadline paused), reported apart from lateness.",
            value=s.get("paused_ms", 0) / 1000,
        )
        yield CounterMetricFamily(
            "riskloop_clue_escalations",
            "Red clues escalated further.",
            value=s.get("escalations", 0),
        )

    def _precision(self) -> Iterator[Any]:
        closed = CounterMetricFamily(
            "riskloop_clue_closed", "Closed clues by rule and disposition code.",
            labels=["rule", "code", "outcome"],
        )  # fmt: skip
        per_rule: dict[str, list[int]] = {}
        for k, n in sorted(self.dispositions.items()):
            rule, _, code = k.rpartition("|")
            outcome = DISPOSITION_CODES.get(code, "dismissed")
            closed.add_metric([rule, code, outcome], n)
            if code not in ("duplicate", "not_applicable"):
                c = per_rule.setdefault(rule, [0, 0])
                c[0 if outcome == "confirmed" else 1] += n
        yield closed
        precision = GaugeMetricFamily(
            "riskloop_clue_rule_precision",
            "Per rule: confirmed / (confirmed + dismissed) over closed clues "
            "(duplicates and not-applicable left out).",
            labels=["rule"],
        )
        for rule, (yes, no) in sorted(per_rule.items()):
            if yes + no:
                precision.add_metric([rule], yes / (yes + no))
        yield precision


REDIS_STATS = RedisStats()
REGISTRY.register(REDIS_STATS)


def render() -> bytes:
    """The default registry in Prometheus text format."""
    return generate_latest(REGISTRY)
