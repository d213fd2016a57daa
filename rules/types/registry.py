"""Rule types by name: ``type: threshold`` in a rule file is :mod:`rules.types.threshold`.

A type's module holds all of the type: its frozen spec, its field table (the keys a rule
of that type has besides the common ones), the builder that checks those keys against
each other and returns the spec, and its evaluator. The module's ``TYPE``, a
:class:`RuleType`, ties them together. The parser (and through it the lint tools and
``rules explain``), the JSON Schema and the engine's runner read the types from here;
nothing else lists them.

The table is explicit and lazy: module names, imported on first use. A type module
imports the parser's pieces (fields, value kinds, ``Rule``), so the parser, which imports
this module, must not import the type modules while it loads: it asks for a type when it
parses a rule of that type. Adding a type is one line here plus its module.

Examples:
    >>> names()[:4]
    ['match', 'threshold', 'ratio', 'spike']
    >>> [f.name for f in rule_type("threshold").fields]
    ['window', 'aggregate', 'condition', 'min_events']
    >>> [v.spec.__name__ for v in rule_type("absence").variants]
    ['AbsenceSpec', 'HeartbeatSpec']
    >>> rule_type("treshold")  # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    rules.types.registry.UnknownRuleType: unknown rule type 'treshold': the rule types are
        match, threshold, ratio, spike, new_value, change, sequence, absence, anomaly
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    from rules.engine.runner import Evaluator
    from rules.engine.timers import Timers
    from rules.language.fields import Field, Reader
    from rules.language.model import Rule
    from rules.types.absence import AbsenceSpec
    from rules.types.anomaly import AnomalySpec
    from rules.types.change import ChangeSpec
    from rules.types.heartbeat import HeartbeatSpec
    from rules.types.match import MatchSpec
    from rules.types.new_value import NewValueSpec
    from rules.types.ratio import RatioSpec
    from rules.types.sequence import SequenceSpec
    from rules.types.spike import SpikeSpec
    from rules.types.threshold import ThresholdSpec

    Spec: TypeAlias = (
        MatchSpec
        | ThresholdSpec
        | RatioSpec
        | SpikeSpec
        | NewValueSpec
        | ChangeSpec
        | SequenceSpec
        | AbsenceSpec
        | HeartbeatSpec
        | AnomalySpec
    )

# rule type -> the module that holds it (its ``TYPE``); the order is the order of the
# schema's enum and of every message that lists the types
MODULES: dict[str, str] = {
    "match": "rules.types.match",
    "threshold": "rules.types.threshold",
    "ratio": "rules.types.ratio",
    "spike": "rules.types.spike",
    "new_value": "rules.types.new_value",
    "change": "rules.types.change",
    "sequence": "rules.types.sequence",
    "absence": "rules.types.absence",
    "anomaly": "rules.types.anomaly",
}


class UnknownRuleType(ValueError):
    """A type name that is not in :data:`MODULES`; the message lists the known ones."""


@dataclass(frozen=True, slots=True)
class Variant:
    """One kind of spec a type builds, the evaluator that runs it, and what its
    ``resolve: {on: ...}`` waits for (None: a rule of this kind has nothing that clears)."""

    spec: type
    evaluator: Callable[[Rule, Timers], Evaluator]
    resolve_on: str | None = None


@dataclass(frozen=True, slots=True)
class RuleType:
    """A rule type: its keys, the builder of its spec, whether the rule needs a common
    ``match`` selection, and its variants (most types have one; ``absence`` has the
    deadline and the heartbeat)."""

    name: str
    fields: tuple[Field, ...]
    build: Callable[[dict[str, Any], Reader], Any]
    variants: tuple[Variant, ...]
    needs_match: bool = True

    def variant(self, spec: Any) -> Variant:
        """The variant whose spec ``spec`` is."""
        for v in self.variants:
            if isinstance(spec, v.spec):
                return v
        raise TypeError(f"a {self.name} rule has no variant for {type(spec).__name__}")

    @property
    def resolvable(self) -> bool:
        return any(v.resolve_on for v in self.variants)


def names() -> list[str]:
    """The rule types, in the table's order."""
    return list(MODULES)


def rule_type(name: str) -> RuleType:
    """The type ``name`` (its module imported now); :class:`UnknownRuleType` if none."""
    try:
        module = MODULES[name]
    except (KeyError, TypeError):
        known = ", ".join(MODULES)
        raise UnknownRuleType(f"unknown rule type {name!r}: the rule types are {known}") from None
    found: RuleType = importlib.import_module(module).TYPE
    return found


def rule_types() -> list[RuleType]:
    """Every type, in the table's order (imports them all)."""
    return [rule_type(name) for name in MODULES]
