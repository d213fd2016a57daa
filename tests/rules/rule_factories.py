"""Factories for rule tests: rules from YAML text, engines, events at literal times."""

from __future__ import annotations

from typing import Any

from event_factories import make_event

from envelope.events import Event, RiskWarning
from rules import RuleSet
from rules.engine.engine import Engine
from rules.language.fields import Ctx
from rules.language.model import Rule, parse_rule

T0 = 1772414100000  # Mon 2026-03-02T09:15:00+08:00
SEC = 1000
MIN = 60_000
HOUR = 3_600_000
DAY = 86_400_000


def rule(text: str, path: str = "rules/r.yaml", ctx: Ctx | None = None) -> Rule:
    return parse_rule(text, path, ctx)


def engine(*texts: str, lateness_ms: int = 0, ctx: Ctx | None = None) -> Engine:
    return Engine(
        RuleSet([rule(t, f"r{i}.yaml", ctx) for i, t in enumerate(texts)]), lateness_ms=lateness_ms
    )


def ev(ts_ms: int, type: str = "a.b", **attrs: Any) -> Event:
    return make_event(ts_ms=ts_ms, type=type, **attrs)


def feed(eng: Engine, events: list[Event]) -> list[RiskWarning]:
    """Process events in order; all warnings they raise."""
    return [w for e in events for w in eng.process(e)]


def export_anomaly_rule(detector: str, threshold: str) -> str:
    """An ``anomaly`` rule over ``data.export`` row counts per account (``attrs.rows``)."""
    return (
        "id: odd-exports\ntitle: unusual export size\ntype: anomaly\n"
        "match: {type: data.export}\ngroup_by: [attrs.account]\n"
        f'detector: {detector}\nfeatures: ["value:attrs.rows"]\nthreshold: {threshold}\n'
    )
