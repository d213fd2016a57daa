"""Key spaces: where each event goes so that a rule sees every event of its key in one place.

A rule keeps state per group key (``group_by``). For its answers not to depend on how the
producers keyed their messages, how many partitions there are or how many workers run, every
event of one key must reach one engine. Rules that share a ``group_by`` (and a ``source``)
share a *key space*; an event is routed once to each key space whose rules can use it, to the
partition its key hashes to there (Kafka's default partitioner over the key, so a key lives on
exactly one partition of its key space). The engine of a partition of a key space runs only
that key space's rules: its state is the state of the keys that hash there.

Rules with ``source: warnings`` form key spaces of their own, fed with warnings (as
``risk.warning`` events) rather than with the event topics.

A rule whose state is not per key (an ``anomaly`` rule's detector learns from every key
of the rule) cannot be split by key without its answers depending on the split: such rules
share the key space ``events:*``, whose one key ``*`` lives on one partition, or, with
``model_by: [region]`` (a model per district), ``events:*region``, keyed by the district.
Their warnings still carry the rule's own group key. A ``spike`` rule with ``share_of``
(a key against its share of a wider group) runs in the key space of those wider parts
(``events:attrs.category``; ``share_of: []`` in ``events:*``), so a group's keys and its
counts meet on one partition; its warnings carry its own key too.

This is the routing the live worker does over its repartition topic and ``backtest`` does in
memory: one function, so both agree.

Pure: no broker, no clock.

Examples:
    >>> from rules.language.model import parse_rule
    >>> from envelope.build import EventMaker
    >>> make = EventMaker()
    >>> def rule(rid, group_by, t):
    ...     return parse_rule(f"id: {rid}\\ntitle: t\\ntype: threshold\\nmatch: {{type: {t}}}\\n"
    ...                       f"group_by: [{group_by}]\\nwindow: 1h\\ncondition: {{gte: 2}}\\n",
    ...                       f"{rid}.yaml")
    >>> plan = KeyPlan(RuleSet([rule("ra", "attrs.account", "data.access"),
    ...                         rule("rb", "attrs.account", "data.export"),
    ...                         rule("rc", "region", "data.access")]))
    >>> [(ks.name, [r.id for r in ks.ruleset.rules]) for ks in plan.spaces]
    [('events:attrs.account', ['ra', 'rb']), ('events:region', ['rc'])]
    >>> ev = make(ts_ms=1772414100000, type="data.access", account="stf-9")
    >>> [(ks.name, key) for ks, key in plan.route(ev)]
    [('events:attrs.account', 'stf-9'), ('events:region', '330106')]
    >>> plan.partition("stf-9", 12), plan.partition("stf-9", 12) == plan.partition("stf-9", 12)
    (7, True)
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from envelope.events import Event
from envelope.partitioning import partition_for
from envelope.paths import getter
from rules.engine.runner import make_evaluator, routing_types
from rules.engine.timers import Timers, Wake
from rules.language.model import Rule
from rules.language.ruleset import RuleSet
from rules.types.common import key_function
from rules.types.spike_share import group_key_function

EVENTS, WARNINGS = "events", "warnings"


@dataclass(frozen=True)
class KeySpace:
    """The rules sharing one ``(source, group_by)``; ``name`` is stable across rule sets
    (``events:attrs.account``), so a reload keeps a key space's state where it was."""

    name: str
    source: str  # "events" or "warnings"
    group_by: tuple[str, ...]
    ruleset: RuleSet
    key: Callable[[Any], str | None]
    types: frozenset[str] | None  # event types its rules react to; None: any type


# Rule types whose state is shared by every key of the rule (one model per rule).
SHARED_STATE_TYPES = frozenset({"anomaly"})
WHOLE = "*"  # the one key of a key space for rules with shared state


def space_name(rule: Rule) -> str:
    """The key space a rule belongs to."""
    source = WARNINGS if rule.source == WARNINGS else EVENTS
    if rule.type in SHARED_STATE_TYPES:
        model_by = getattr(rule.spec, "model_by", ())
        return f"{source}:{WHOLE}{','.join(model_by)}"
    share_of = getattr(rule.spec, "share_of", None)
    if share_of is not None:
        parts = [p for p, g in zip(rule.key_parts, rule.group_by, strict=True) if g in share_of]
        return f"{source}:{','.join(parts) or WHOLE}"
    return f"{source}:{','.join(rule.key_parts)}"


def _route_key(rule: Rule) -> Callable[[Any], str | None]:
    """The key an event of ``rule`` is routed by: its group key, or its share group's."""
    if getattr(rule.spec, "share_of", None) is not None:
        return group_key_function(rule)
    return key_function(rule)


def _whole(key_of: Callable[[Any], str | None]) -> Callable[[Any], str | None]:
    """The key function of a shared-state key space: ``*`` wherever a rule has a key."""
    return lambda ev: None if key_of(ev) is None else WHOLE


def _space_key(name: str, rules: list[Rule]) -> Callable[[Any], str | None]:
    """The key of an event in key space ``name``: the rules' group key, or for shared-state
    rules ``*`` (one model) or the ``model_by`` values (a model per value)."""
    shared = name.partition(":")[2]
    if not shared.startswith(WHOLE):
        return _route_key(rules[0])
    if shared == WHOLE:
        return _any_key(rules)
    parts = [getter(p) for p in shared[len(WHOLE) :].split(",")]
    has_key = _any_key(rules)

    def model_key(ev: Any) -> str | None:
        return None if has_key(ev) is None else "|".join(str(g(ev)) for g in parts)

    return model_key


def _any_key(rules: list[Rule]) -> Callable[[Any], str | None]:
    keys = [key_function(r) for r in rules]
    if len(keys) == 1:
        return _whole(keys[0])
    return lambda ev: WHOLE if any(k(ev) is not None for k in keys) else None


def _types_of(rules: list[Rule]) -> frozenset[str] | None:
    types: set[str] = set()
    for rule in rules:
        rtypes = routing_types(rule, make_evaluator(rule, Timers(Wake())))
        if rtypes is None:
            return None
        types |= rtypes
    return frozenset(types)


class KeyPlan:
    """The key spaces a rule set needs, and the route of an event through them."""

    def __init__(self, ruleset: RuleSet) -> None:
        self.ruleset = ruleset
        groups: dict[str, list[Rule]] = {}
        for rule in ruleset.rules:
            if not rule.enabled:
                continue
            groups.setdefault(space_name(rule), []).append(rule)
        self.spaces: list[KeySpace] = []
        for name, rules in groups.items():
            source = name.partition(":")[0]
            self.spaces.append(
                KeySpace(
                    name=name,
                    source=source,
                    group_by=rules[0].group_by,
                    ruleset=RuleSet(rules, ruleset.lists, ruleset.macros),
                    key=_space_key(name, rules),
                    types=None if source == WARNINGS else _types_of(rules),
                )
            )
        self.by_name = {ks.name: ks for ks in self.spaces}
        self._event_spaces = [ks for ks in self.spaces if ks.source == EVENTS]
        self._warning_spaces = [ks for ks in self.spaces if ks.source == WARNINGS]
        self._by_type: dict[str, list[KeySpace]] = {}

    def route(self, ev: Event) -> Iterator[tuple[KeySpace, str]]:
        """Each key space of the events' source whose rules can use ``ev``, with its key there
        (none when the event lacks a part of the key: no rule of that space would count it)."""
        spaces = self._by_type.get(ev.type)
        if spaces is None:
            spaces = [ks for ks in self._event_spaces if ks.types is None or ev.type in ks.types]
            self._by_type[ev.type] = spaces
        for ks in spaces:
            key = ks.key(ev)
            if key is not None:
                yield ks, key

    def route_warning(self, ev: Event) -> Iterator[tuple[KeySpace, str]]:
        """:meth:`route` for a warning as an event (``rules.engine.engine.warning_event``)."""
        for ks in self._warning_spaces:
            key = ks.key(ev)
            if key is not None:
                yield ks, key

    @property
    def takes_warnings(self) -> bool:
        return bool(self._warning_spaces)

    @staticmethod
    def partition(key: str, partitions: int) -> int:
        """The partition of a key space that holds ``key`` (murmur2, as Kafka's producers)."""
        return _partition(key, partitions)

    def space_of(self, rule_id: str) -> KeySpace | None:
        """The key space that runs ``rule_id`` (None for a rule not running)."""
        for ks in self.spaces:
            if any(r.id == rule_id for r in ks.ruleset.rules):
                return ks
        return None


@functools.lru_cache(maxsize=1 << 16)
def _partition(key: str, partitions: int) -> int:
    """murmur2 in pure Python costs microseconds a call and keys recur: the busiest kept."""
    return partition_for(key.encode("utf-8"), partitions)
