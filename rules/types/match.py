"""``match``: every event that passes the rule's ``match`` and ``where`` is a warning
(one per key and event time; suppression keeps a busy key quiet).

Examples:
    >>> from rules import RuleSet
    >>> from rules.engine.engine import Engine
    >>> from rules.language.model import parse_rule
    >>> from envelope.build import EventMaker
    >>> make_event = EventMaker()
    >>> rule = parse_rule('''
    ... id: night-medical
    ... title: medical records read at night
    ... type: match
    ... match: {type: data.access, attrs.dataset: medical}
    ... where: hour(ts_ms) < 6
    ... group_by: [attrs.account]
    ... ''', "r.yaml")
    >>> eng = Engine(RuleSet([rule]), lateness_ms=0)
    >>> night, day = 1772387100000, 1772414100000  # 2026-03-02 01:45 and 09:15 (UTC+8)
    >>> def read(ts):
    ...     return make_event(ts_ms=ts, type="data.access", account="s1", dataset="medical")
    >>> [w.key for t in (night, day) for w in eng.process(read(t))]
    ['s1']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from envelope.events import Event
from rules.engine.timers import Timers
from rules.language.fields import Reader
from rules.language.model import Rule
from rules.matching.selection import Selection
from rules.types.common import Hit, RuleState, capture_function, key_function
from rules.types.registry import RuleType, Variant


@dataclass(frozen=True, slots=True)
class MatchSpec:
    """``match``: every event that passes ``match``/``where`` is a warning."""


def build(v: dict[str, Any], r: Reader) -> MatchSpec:
    """A match rule has no keys of its own."""
    return MatchSpec()


class MatchEvaluator:
    def __init__(self, rule: Rule, timers: Timers) -> None:
        self.rule = rule
        self.key_of = key_function(rule)
        self.capture = capture_function(rule)

    def selections(self) -> list[Selection]:
        return []

    def on_event(self, ev: Event, st: RuleState) -> list[Hit] | None:
        key = self.key_of(ev)
        if key is None:
            return None
        return [Hit(key, ev.ts_ms, "fired", ev.ts_ms, self.capture(ev), evidence=(ev.id,))]

    def on_watermark(self, wm_ms: int, st: RuleState) -> list[Hit] | None:
        return None

    def rebuild(self, st: RuleState) -> None:
        return None

    def describe(self, key: str, st: RuleState) -> dict[str, Any]:
        return {"key": key, "stateless": True}


TYPE = RuleType("match", (), build, (Variant(MatchSpec, MatchEvaluator),))
