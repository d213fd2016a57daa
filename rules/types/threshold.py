"""``threshold``: an aggregate per group key over a sliding event-time window.

``aggregate`` is ``count``, ``distinct(field)``, ``sum``/``avg``/``min``/``max(field)`` or
``percentile(field, p)``; ``condition`` holds comparisons that must all be true
(``{gte: 3}``, ``{between: [10, 20]}``); ``min_events`` the events needed (default 1; 0
for a "fewer than" count, which also fires when the events stop). Window and episode
semantics, "fewer than" conditions and late events: :mod:`rules.types.windowed`.

Examples:
    >>> from rules import RuleSet
    >>> from rules.engine.engine import Engine
    >>> from rules.language.model import parse_rule
    >>> from envelope.build import EventMaker
    >>> make_event = EventMaker()
    >>> rule = parse_rule('''
    ... id: big-exports
    ... title: large average export
    ... type: threshold
    ... match: {type: data.export}
    ... group_by: [attrs.account]
    ... window: 1h
    ... aggregate: avg(attrs.rows)
    ... condition: {gt: 1000}
    ... min_events: 2
    ... ''', "r.yaml")
    >>> eng = Engine(RuleSet([rule]), lateness_ms=0)
    >>> T0 = 1772414100000
    >>> eng.process(make_event(ts_ms=T0, type="data.export", account="a1", rows=5000))
    []
    >>> [(w.key, w.value) for w in eng.process(
    ...     make_event(ts_ms=T0 + 60_000, type="data.export", account="a1", rows=100))]
    [('a1', 2550.0)]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from envelope.events import Event
from envelope.paths import getter
from rules.engine.timers import Timers
from rules.language.fields import Field, Number, Reader
from rules.language.model import Rule
from rules.language.valuekinds import Aggregate, AggregateKind, LimitsKind
from rules.types.aggregates import Limits, as_number
from rules.types.common import WINDOW
from rules.types.registry import RuleType, Variant
from rules.types.windowed import SKIP, WindowedEvaluator, fewer_than


@dataclass(frozen=True, slots=True)
class ThresholdSpec:
    window_ms: int
    aggregate: Aggregate
    condition: Limits
    min_events: int | None = None  # None: 1, or 0 for a "fewer than" count

    @property
    def field(self) -> str | None:
        return self.aggregate.field


FIELDS = (
    WINDOW,
    Field(
        "aggregate",
        AggregateKind(),
        default="count",
        doc="count, distinct(f), sum/avg/min/max(f) or percentile(f, p)",
    ),
    Field(
        "condition",
        LimitsKind(),
        required=True,
        doc="when the aggregate fires, like {gte: 3}",
    ),
    Field(
        "min_events",
        Number(0, integer=True),
        doc="events needed in the window (default 1; 0 for a 'fewer than' count)",
    ),
)


def build(v: dict[str, Any], r: Reader) -> ThresholdSpec:
    agg: Aggregate = v["aggregate"] or Aggregate("count")
    return ThresholdSpec(v["window"], agg, v["condition"], v["min_events"])


class ThresholdEvaluator(WindowedEvaluator):
    def __init__(self, rule: Rule, timers: Timers) -> None:
        super().__init__(rule, timers)
        spec = rule.spec
        assert isinstance(spec, ThresholdSpec)
        self.spec = spec
        self.agg = spec.aggregate.make()
        self.limits = spec.condition
        if spec.min_events is not None:
            self.min_events = spec.min_events
        else:  # a "fewer than" count also holds for an emptied window
            self.min_events = 0 if fewer_than(self.agg, self.limits) else 1
        self.value_of = _value_function(spec)  # type: ignore[method-assign,assignment]
        self.setup()


def _value_function(spec: ThresholdSpec) -> Callable[[Event], Any]:
    """What an event adds to the window: nothing (count), its value as text (distinct)
    or as a number; ``SKIP`` when the field is missing or not a number."""
    if spec.aggregate.field is None:
        return lambda ev: None
    path = spec.aggregate.field
    get = getter(path)
    if spec.aggregate.name == "distinct":
        head, _, name = path.partition(".")
        if head == "attrs" and "." not in name:

            def attr_text(ev: Event) -> Any:  # the common case, one call less
                v = ev.attrs.get(name)
                return SKIP if v is None else v if isinstance(v, str) else str(v)

            return attr_text

        def text(ev: Event) -> Any:
            v = get(ev)
            return SKIP if v is None else v if isinstance(v, str) else str(v)

        return text

    def number(ev: Event) -> Any:
        n = as_number(get(ev))
        return SKIP if n is None else n

    return number


TYPE = RuleType(
    "threshold", FIELDS, build, (Variant(ThresholdSpec, ThresholdEvaluator, "cleared"),)
)
