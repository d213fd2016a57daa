"""``match`` selections: parsing a mapping (or a list of them) and evaluating it on events.

A selection is a mapping ``field|modifier: operand``; every entry must hold (AND). A list
of mappings means "any of them" (OR). A list operand without a modifier means "any of"
(``in``); ``$list:name`` names a shared list. A missing field never matches, except with
``|exists: false`` and ``|not_in``. ``field|norm|modifier`` compares the value and the
operand as group keys are normalised (:func:`~rules.matching.normalise.key_text`), and
``field|address|modifier`` as addresses are. The modifiers themselves are in
:mod:`rules.matching.modifiers`, field paths in :mod:`envelope.paths`.

Examples:
    >>> from envelope.build import EventMaker
    >>> make_event = EventMaker()
    >>> ev = make_event(ts_ms=1772414100000, type="data.access", dataset="medical", rows=120)
    >>> sel = compile_selection({"type": "data.access", "attrs.rows|gte": 100}, "r.yaml")
    >>> sel.matches(ev), sel.types
    (True, frozenset({'data.access'}))
    >>> compile_selection({"attrs.dataset|in": ["tax", "vehicle"]}, "r.yaml").matches(ev)
    False
    >>> compile_selection([{"attrs.rows|lt": 5}, {"attrs.dataset|startswith": "med"}],
    ...     "r.yaml").matches(ev)
    True
    >>> compile_selection({"attrs.dataset|re": "^med"}, "r.yaml").matches(ev)
    True
    >>> typed = make_event(ts_ms=0, applicant="１１０１０１１９９００１０１１２３x")
    >>> compile_selection({"attrs.applicant|norm": "11010119900101123X"}, "r").matches(typed)
    True
    >>> compile_selection({"attrs.address|address|startswith": "西湖区"}, "r.yaml",
    ...     {"address_prefixes": ("杭州市",)}).matches(make_event(ts_ms=0, address="杭州市 西湖区"))
    True
    >>> compile_selection({"attrs.rows|above": 1}, "r.yaml")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    rules.language.errors.RuleError: r.yaml:1:1: unknown modifier 'above' in 'attrs.rows|above': ...
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from envelope.paths import TOP_FIELDS, Getter, getter, path_error
from rules.language.errors import RuleError
from rules.matching.modifiers import (
    LIST_PREFIX,
    OPERATORS,
    is_list_ref,
    list_operand,
    prepare_operand,
)
from rules.matching.normalise import ADDRESS_PREFIXES_LIST, NORMALISERS, KeyNorm, key_text


@dataclass(frozen=True, slots=True)
class Condition:
    """One ``field|modifier: operand`` entry, compiled."""

    text: str
    path: str
    op: str
    operand: Any
    get: Getter = field(compare=False, repr=False)
    norm: str = ""  # a normaliser of the value and the operand: "norm" or one of NORMALISERS

    def holds(self, event: Any) -> bool:
        return OPERATORS[self.op][0](self.get(event), self.operand)


def _fast(c: Condition) -> Callable[[Any], bool]:
    """A predicate for one condition, with shortcuts for the common ``eq``/``in`` on a
    top-level field or a first-level attribute (the hot path of routing rules)."""
    fn, get, operand = OPERATORS[c.op][0], c.get, c.operand
    head, _, rest = c.path.partition(".")
    if c.norm:  # the shortcuts read the raw value
        return lambda ev: fn(get(ev), operand)
    if c.op == "in" and head == "attrs" and "." not in rest:

        def attr_in(ev: Any) -> bool:  # _in, inlined
            v = ev.attrs.get(rest)
            if v is None:
                return False
            try:
                return v in operand or str(v) in operand
            except TypeError:  # an unhashable value (a list or a mapping)
                return False

        return attr_in
    if c.op == "eq" and isinstance(operand[0], str):
        want = operand[0]
        if head == "attrs" and "." not in rest:
            return lambda ev: (
                (v := ev.attrs.get(rest)) == want or (v is not None and str(v) == want)
            )
        if head in TOP_FIELDS and head != "ts_ms":
            return lambda ev: get(ev) == want
    return lambda ev: fn(get(ev), operand)


def _all(conds: tuple[Condition, ...]) -> Callable[[Any], bool]:
    """One fast predicate for an AND of conditions."""
    preds = [_fast(c) for c in conds]
    if not preds:
        return lambda ev: True
    if len(preds) == 1:
        return preds[0]
    if len(preds) == 2:
        p1, p2 = preds
        return lambda ev: p1(ev) and p2(ev)

    return lambda ev: all(p(ev) for p in preds)


@dataclass(frozen=True, slots=True)
class Selection:
    """Any alternative holds when all its conditions hold. ``types``: the event types it
    can match, if the selection pins them (the engine's per-type index uses it)."""

    alternatives: tuple[tuple[Condition, ...], ...]
    types: frozenset[str] | None
    lists: frozenset[str] = frozenset()
    fast: Callable[[Any], bool] = field(compare=False, repr=False, default=lambda ev: True)

    def matches(self, event: Any) -> bool:
        return self.fast(event)

    def explain(self, event: Any) -> list[list[tuple[str, bool, Any]]]:
        """Per alternative, each condition's text, whether it held and the value seen."""
        return [[(c.text, c.holds(event), c.get(event)) for c in alt] for alt in self.alternatives]

    def without_types(self) -> Selection:
        """The same selection minus its ``type`` conditions, for events already routed by
        type (only valid for a single alternative; otherwise the selection itself)."""
        if len(self.alternatives) != 1 or self.types is None:
            return self
        rest = tuple(c for c in self.alternatives[0] if c.path != "type")
        return Selection((rest,), self.types, self.lists, _all(rest))


def _alternative(
    spec: Mapping[str, Any], path: str, lists: Mapping[str, tuple[Any, ...]]
) -> tuple[tuple[Condition, ...], frozenset[str] | None, set[str]]:
    key_pos = getattr(spec, "key_pos", {})
    default = getattr(spec, "pos", (1, 1))
    conditions: list[Condition] = []
    types: frozenset[str] | None = None
    used: set[str] = set()
    for where, raw in spec.items():
        line, col = key_pos.get(where, default)
        fieldpath, _, op = str(where).partition("|")
        norm, op = _norm_of(op)
        if not op:
            op = "in" if isinstance(raw, list) or is_list_ref(raw) else "eq"
        if op not in OPERATORS:
            known = ", ".join(sorted(OPERATORS))
            raise RuleError(
                path, line, col, f"unknown modifier {op!r} in {where!r}: use one of {known}"
            )
        problem = path_error(fieldpath)
        if problem:
            raise RuleError(path, line, col, f"in {where!r}: {problem}")
        fix = _normaliser(norm, lists, used)
        try:
            operand = prepare_operand(
                op, _normal_operand(fix, op, raw, str(where), lists), str(where), lists
            )
        except ValueError as exc:
            raise RuleError(path, line, col, str(exc)) from None
        if is_list_ref(raw):
            used.add(raw[len(LIST_PREFIX) :])
        if fieldpath == "type" and op in ("eq", "in"):
            pinned = frozenset(str(x) for x in list_operand(raw, str(where), lists))
            types = pinned if types is None else types & pinned
        get = getter(fieldpath) if fix is None else _normal_getter(getter(fieldpath), fix)
        conditions.append(Condition(str(where), fieldpath, op, operand, get, norm))
    return tuple(conditions), types, used


def _norm_of(op: str) -> tuple[str, str]:
    """``norm|in`` -> ("norm", "in"); ``address`` -> ("address", ""); ``in`` -> ("", "in")."""
    first, _, rest = op.partition("|")
    if first == "norm" or first in NORMALISERS:
        return first, rest
    return "", op


def _normaliser(
    norm: str, lists: Mapping[str, tuple[Any, ...]], used: set[str]
) -> Callable[[str], str] | None:
    if not norm:
        return None
    if norm == "norm":
        return key_text
    prefixes = tuple(str(p) for p in lists.get(ADDRESS_PREFIXES_LIST, ()))
    if prefixes:
        used.add(ADDRESS_PREFIXES_LIST)
    return KeyNorm(norm, prefixes)


def _normal_operand(
    fix: Callable[[str], str] | None, op: str, raw: Any, where: str, lists: Mapping[str, Any]
) -> Any:
    """The operand as the normalised values will be compared with it (not a pattern)."""
    if fix is None or OPERATORS[op][1] not in ("scalar", "list", "texts"):
        return raw
    items = list_operand(raw, where, lists) if OPERATORS[op][1] == "list" else raw
    if isinstance(items, list):
        return [fix(x) if isinstance(x, str) else x for x in items]
    return fix(items) if isinstance(items, str) else items


def _normal_getter(get: Getter, fix: Callable[[str], str]) -> Getter:
    def normal(ev: Any) -> Any:
        v = get(ev)
        return fix(v) if isinstance(v, str) else v

    return normal


def compile_selection(
    spec: Any, path: str, lists: Mapping[str, tuple[Any, ...]] | None = None
) -> Selection:
    """Compile a ``match`` mapping (or a list of mappings, any of which may hold); errors
    point at the offending key."""
    lists = lists or {}
    alts_raw = spec if isinstance(spec, list) else [spec]
    line, col = getattr(spec, "pos", (1, 1))
    if not alts_raw or not all(isinstance(a, Mapping) and a for a in alts_raw):
        raise RuleError(
            path,
            line,
            col,
            "a selection must be a mapping like {type: application.accepted} "
            "or a list of such mappings",
        )
    alternatives = []
    types: set[str] | None = set()
    used: set[str] = set()
    for raw in alts_raw:
        conds, alt_types, alt_used = _alternative(raw, path, lists)
        alternatives.append(conds)
        used |= alt_used
        types = None if types is None or alt_types is None else types | alt_types
    preds = [_all(a) for a in alternatives]
    fast = preds[0] if len(preds) == 1 else (lambda ev: any(p(ev) for p in preds))
    frozen = None if types is None else frozenset(types)
    return Selection(tuple(alternatives), frozen, frozenset(used), fast)
