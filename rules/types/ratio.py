"""``ratio``: the share of a sub-selection (``numerator``) among the rule's events in a
sliding window, per group key; fires when ``condition`` holds and the window holds at
least ``min_denominator`` events.

Examples:
    >>> from rules import RuleSet
    >>> from rules.engine.engine import Engine
    >>> from rules.language.model import parse_rule
    >>> from envelope.build import EventMaker
    >>> make_event = EventMaker()
    >>> rule = parse_rule('''
    ... id: rejections
    ... title: an official rejects most applications
    ... type: ratio
    ... match: {type: application.decided}
    ... numerator: {attrs.decision: rejected}
    ... group_by: [attrs.official]
    ... window: 1d
    ... condition: {gt: 0.5}
    ... min_denominator: 4
    ... ''', "r.yaml")
    >>> eng = Engine(RuleSet([rule]), lateness_ms=0)
    >>> T0 = 1772414100000
    >>> out = [w for i, d in enumerate(["rejected", "approved", "rejected", "rejected"])
    ...        for w in eng.process(make_event(ts_ms=T0 + i * 60_000,
    ...            type="application.decided", official="o1", decision=d))]
    >>> [(w.key, w.value) for w in out]
    [('o1', 0.75)]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from envelope.events import Event
from rules.engine.timers import Timers
from rules.language.fields import Field, Number, Reader
from rules.language.model import Rule
from rules.language.valuekinds import LimitsKind, SelectionKind
from rules.matching.selection import Selection
from rules.types.aggregates import Limits, Share
from rules.types.common import WINDOW
from rules.types.registry import RuleType, Variant
from rules.types.windowed import WindowedEvaluator


@dataclass(frozen=True, slots=True)
class RatioSpec:
    window_ms: int
    numerator: Selection
    condition: Limits
    min_denominator: int


FIELDS = (
    WINDOW,
    Field(
        "numerator",
        SelectionKind(),
        required=True,
        doc="the sub-selection whose share is measured",
    ),
    Field("condition", LimitsKind(), required=True, doc="when the share fires, like {gt: 0.4}"),
    Field(
        "min_denominator",
        Number(1, integer=True),
        default=10,
        doc="events needed in the window",
    ),
)


def build(v: dict[str, Any], r: Reader) -> RatioSpec:
    for op, operand in v["condition"].parts:
        values = operand if isinstance(operand, tuple) else (operand,)
        if any(not 0 <= x <= 1 for x in values):
            raise r.fail(
                "condition", f"a ratio is a share from 0 to 1: '{op}: {operand}' cannot be"
            )
    return RatioSpec(v["window"], v["numerator"], v["condition"], v["min_denominator"])


class RatioEvaluator(WindowedEvaluator):
    def __init__(self, rule: Rule, timers: Timers) -> None:
        super().__init__(rule, timers)
        spec = rule.spec
        assert isinstance(spec, RatioSpec)
        self.spec = spec
        self.agg = Share()
        self.limits = spec.condition
        self.min_events = spec.min_denominator
        self.numerator = spec.numerator.fast
        self.setup()

    def value_of(self, ev: Event) -> Any:
        return 1 if self.numerator(ev) else 0


TYPE = RuleType("ratio", FIELDS, build, (Variant(RatioSpec, RatioEvaluator, "cleared"),))
