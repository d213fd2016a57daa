"""Field modifiers of ``match`` selections: one explicit table from name to implementation.

A selection is a mapping ``field|modifier: operand``; every entry must hold (AND). A list
of mappings means "any of them" (OR). A list operand without a modifier means "any of"
(``in``); ``$list:name`` names a shared list. A missing field never matches, except with
``|exists: false`` and ``|not_in``.

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
    >>> compile_selection({"attrs.rows|above": 1}, "r.yaml")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    rules.language.errors.RuleError: r.yaml:1:1: unknown modifier 'above' in 'attrs.rows|above': ...
"""

from __future__ import annotations

import re
import re._compiler as _sre_compiler
import re._constants as _sre_constants
import re._parser as _sre_parser
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from rules.language.errors import RuleError

Getter = Callable[[Any], Any]
TOP_FIELDS = ("id", "type", "stream", "ts", "ts_ms", "source", "region", "department")
LIST_PREFIX = "$list:"
_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$")


def path_error(path: str) -> str | None:
    """Why ``path`` is not an event field path, or None if it is one.

    >>> path_error("attrs.item"), path_error("entity.id")
    (None, None)
    >>> path_error("item")[:50]
    "unknown field 'item': use attrs.item for an attrib"
    """
    if not isinstance(path, str) or not _PATH.match(path):
        return f"{path!r} is not a field path like attrs.item"
    head, _, rest = path.partition(".")
    if head == "attrs" and rest:
        return None
    if head == "entity" and rest in ("id", "kind"):
        return None
    if head in TOP_FIELDS and not rest:
        return None
    fields = ", ".join(("entity.id", "entity.kind", *TOP_FIELDS))
    return f"unknown field {path!r}: use attrs.{path} for an attribute, or one of {fields}"


def getter(path: str) -> Getter:
    """A fast accessor for a valid field path (see :func:`path_error`); None when absent.

    >>> from envelope.build import EventMaker

    >>> make_event = EventMaker()
    >>> ev = make_event(ts_ms=1772414100000, item="food", nested={"a": {"b": 3}})
    >>> getter("attrs.item")(ev), getter("attrs.nested.a.b")(ev), getter("entity.kind")(ev)
    ('food', 3, 'citizen')
    """
    head, _, rest = path.partition(".")
    if head == "attrs":
        parts = rest.split(".")
        if len(parts) == 1:
            name = parts[0]
            return lambda ev: ev.attrs.get(name)
        return lambda ev: _dig(ev.attrs, parts)
    if head == "entity":
        return attrgetter("entity_id" if rest == "id" else "entity_kind")
    return attrgetter(head)


def _dig(value: Any, parts: list[str]) -> Any:
    for part in parts:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _num(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        return float(v)
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _cmp(pred: Callable[[float, float], bool]) -> Callable[[Any, Any], bool]:
    def op(value: Any, operand: Any) -> bool:
        a = _num(value)
        return a is not None and pred(a, operand)

    return op


def _eq(value: Any, operand: tuple[Any, str]) -> bool:
    return value == operand[0] or (value is not None and str(value) == operand[1])


def _in(value: Any, operand: frozenset[Any]) -> bool:
    if value is None:
        return False
    try:
        return value in operand or str(value) in operand
    except TypeError:  # an unhashable value (a list or a mapping)
        return False


def _contains(value: Any, operand: tuple[Any, ...]) -> bool:
    if isinstance(value, str):
        return any(isinstance(o, str) and o in value for o in operand)
    if isinstance(value, list):
        return any(o in value for o in operand)
    return False


def _icontains(value: Any, operand: tuple[str, ...]) -> bool:
    return isinstance(value, str) and any(o in value.casefold() for o in operand)


_ONE_CHAR = (
    _sre_constants.LITERAL,
    _sre_constants.NOT_LITERAL,
    _sre_constants.IN,
    _sre_constants.ANY,
    _sre_constants.CATEGORY,
)
_REPEATS = (
    _sre_constants.MAX_REPEAT,
    _sre_constants.MIN_REPEAT,
    _sre_constants.POSSESSIVE_REPEAT,
)


def safe_regex(text: str) -> re.Pattern[str]:
    """``re.compile``, refusing a repetition inside an unbounded repetition (``(a+)+``,
    ``(x*y?)*``): Python's matcher can take exponential time on one value with those, and
    one event would stall its partition. Raises ``re.error`` saying how to rewrite it.

    >>> safe_regex(r"^stf-[0-9]+$").pattern
    '^stf-[0-9]+$'
    >>> safe_regex(r"^(a+)+$")
    Traceback (most recent call last):
    ...
    re.error: a repetition inside an unbounded repetition ('(a+)+' or similar) can take exponential time on one value: repeat the inner part once, like (a)+ or a+
    """  # noqa: E501
    pattern = re.compile(text)
    if _nested_repeat(_sre_parser.parse(text)):
        raise re.error(
            "a repetition inside an unbounded repetition ('(a+)+' or similar) can take"
            " exponential time on one value: repeat the inner part once, like (a)+ or a+"
        )
    return pattern


def _nested_repeat(tree: Any) -> bool:
    """An unbounded repetition whose body can split a value between its iterations in
    many ways (``(a+)+``, ``(x*y?)*``, ``(a+|b)+``, ``(.*a)+``): exponential backtracking.
    A body with a separator, a single character its variable parts cannot take
    (``(?:[a-z]+\\.)*``, ``((a|b)c+)*``), splits one way only; possessive parts never
    backtrack."""
    for op, av in tree:
        if op in _REPEATS:
            _lo, hi, sub = av
            if (
                op != _sre_constants.POSSESSIVE_REPEAT
                and hi == _sre_constants.MAXREPEAT
                and _varies(sub)
                and not _separated(sub)
            ):
                return True
            inner = [sub]
        elif op == _sre_constants.SUBPATTERN:
            inner = [av[-1]]
        elif op == _sre_constants.BRANCH:
            inner = list(av[1])
        elif op in (_sre_constants.ASSERT, _sre_constants.ASSERT_NOT):
            inner = [av[1]]
        else:
            continue
        if any(_nested_repeat(part) for part in inner):
            return True
    return False


# Characters tried to see what a one-character part matches (ASCII, a CJK one, a newline).
_PROBE = [chr(c) for c in range(32, 127)] + ["\n", "\t", "中"]


def _chars(sub: Any) -> set[str]:
    """The probe characters a one-character pattern (a parsed subpattern) matches."""
    pattern = _sre_compiler.compile(sub)
    return {c for c in _PROBE if pattern.fullmatch(c)}


def _separated(seq: Any) -> bool:
    """``seq`` (a repeated body) holds one character none of its variable parts can take."""
    while len(seq) == 1 and seq[0][0] == _sre_constants.SUBPATTERN:  # (body)+: the body
        seq = seq[0][1][-1]
    taken: set[str] = set()
    singles = []
    for op, av in seq:
        if op == _sre_constants.SUBPATTERN and len(av[-1]) == 1 and av[-1][0][0] in _ONE_CHAR:
            op, av = av[-1][0]  # (a|b) is one character too
        if op in _REPEATS and av[0] != av[1] and op != _sre_constants.POSSESSIVE_REPEAT:
            body = av[2]
            if len(body) == 1 and body[0][0] in _ONE_CHAR:
                taken |= _chars(body)
            else:
                return False  # a repeated group: no single character separates it
        elif op in _ONE_CHAR:
            singles.append(_sre_parser.SubPattern(seq.state, [(op, av)]))
        elif op in (_sre_constants.SUBPATTERN, _sre_constants.BRANCH) and _varies([(op, av)]):
            return False  # a group that varies by itself: treat the body as ambiguous
    return any(not (_chars(one) & taken) for one in singles)


def _varies(seq: Any) -> bool:
    """``seq`` holds a repetition that can take more than one item (and backtrack)."""
    for op, av in seq:
        if op in _REPEATS and op != _sre_constants.POSSESSIVE_REPEAT:
            if av[1] > 1 and av[0] != av[1]:
                return True
            if _varies(av[2]):
                return True
        if op == _sre_constants.SUBPATTERN and _varies(av[-1]):
            return True
        if op == _sre_constants.BRANCH and any(_varies(b) for b in av[1]):
            return True
    return False


def _re(value: Any, operand: tuple[re.Pattern[str], ...]) -> bool:
    return isinstance(value, str) and any(p.search(value) for p in operand)


# The modifier table: name -> (implementation(value, operand), operand kind, description).
OPERATORS: dict[str, tuple[Callable[[Any, Any], bool], str, str]] = {
    "eq": (_eq, "scalar", "equals (numbers and text compare by their text)"),
    "ne": (lambda v, o: v is not None and not _eq(v, o), "scalar", "is present and differs"),
    "in": (_in, "list", "one of a list (or $list:name)"),
    "not_in": (lambda v, o: not _in(v, o), "list", "missing or none of a list"),
    "contains": (_contains, "texts", "text contains a part, or a list holds an item"),
    "icontains": (_icontains, "texts", "text contains a part, ignoring case"),
    "startswith": (lambda v, o: isinstance(v, str) and v.startswith(o), "texts", "starts with"),
    "endswith": (lambda v, o: isinstance(v, str) and v.endswith(o), "texts", "ends with"),
    "re": (_re, "regex", "matches a regular expression (search)"),
    "gt": (_cmp(lambda a, b: a > b), "number", "number greater than"),
    "gte": (_cmp(lambda a, b: a >= b), "number", "number at least"),
    "lt": (_cmp(lambda a, b: a < b), "number", "number less than"),
    "lte": (_cmp(lambda a, b: a <= b), "number", "number at most"),
    "exists": (lambda v, o: (v is not None) == o, "bool", "present (true) or absent (false)"),
}


def _list_operand(raw: Any, where: str, lists: Mapping[str, tuple[Any, ...]]) -> list[Any]:
    if isinstance(raw, str) and raw.startswith(LIST_PREFIX):
        name = raw[len(LIST_PREFIX) :]
        if name not in lists:
            known = ", ".join(sorted(lists)) or "none defined"
            raise ValueError(
                f"'{where}' names an unknown list {name!r}: define it under 'lists:' in a "
                f"shared file (known: {known})"
            )
        return list(lists[name])
    return raw if isinstance(raw, list) else [raw]


def _operand(op: str, raw: Any, where: str, lists: Mapping[str, tuple[Any, ...]]) -> Any:
    """Check and prepare an operand once, at load time. Returns it or raises ValueError."""
    kind = OPERATORS[op][1]
    if kind == "number":
        n = _num(raw)
        if n is None:
            raise ValueError(f"'{where}' needs a number, got {raw!r}")
        return n
    if kind == "bool":
        if not isinstance(raw, bool):
            raise ValueError(f"'{where}' needs true or false")
        return raw
    if kind == "scalar":
        if isinstance(raw, dict | list):
            raise ValueError(f"'{where}' needs a single value, not a list or a mapping")
        return (raw, str(raw))
    items = _list_operand(raw, where, lists)
    if not items or any(isinstance(x, dict | list) for x in items):
        raise ValueError(f"'{where}' needs a value or a non-empty list of values")
    if kind == "list":
        return frozenset(str(x) for x in items) | frozenset(items)
    texts = tuple(str(x) for x in items)
    if kind == "regex":
        try:
            return tuple(safe_regex(t) for t in texts)
        except re.error as exc:
            raise ValueError(f"'{where}' has a bad regular expression: {exc}") from None
    return tuple(t.casefold() for t in texts) if op == "icontains" else texts


@dataclass(frozen=True, slots=True)
class Condition:
    """One ``field|modifier: operand`` entry, compiled."""

    text: str
    path: str
    op: str
    operand: Any
    get: Getter = field(compare=False, repr=False)

    def holds(self, event: Any) -> bool:
        return OPERATORS[self.op][0](self.get(event), self.operand)


def _fast(c: Condition) -> Callable[[Any], bool]:
    """A predicate for one condition, with shortcuts for the common ``eq``/``in`` on a
    top-level field or a first-level attribute (the hot path of routing rules)."""
    fn, get, operand = OPERATORS[c.op][0], c.get, c.operand
    head, _, rest = c.path.partition(".")
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
        if not op:
            op = "in" if isinstance(raw, list) or _is_list_ref(raw) else "eq"
        if op not in OPERATORS:
            known = ", ".join(sorted(OPERATORS))
            raise RuleError(
                path, line, col, f"unknown modifier {op!r} in {where!r}: use one of {known}"
            )
        problem = path_error(fieldpath)
        if problem:
            raise RuleError(path, line, col, f"in {where!r}: {problem}")
        try:
            operand = _operand(op, raw, str(where), lists)
        except ValueError as exc:
            raise RuleError(path, line, col, str(exc)) from None
        if _is_list_ref(raw):
            used.add(raw[len(LIST_PREFIX) :])
        if fieldpath == "type" and op in ("eq", "in"):
            pinned = frozenset(str(x) for x in _list_operand(raw, str(where), lists))
            types = pinned if types is None else types & pinned
        conditions.append(Condition(str(where), fieldpath, op, operand, getter(fieldpath)))
    return tuple(conditions), types, used


def _is_list_ref(raw: Any) -> bool:
    return isinstance(raw, str) and raw.startswith(LIST_PREFIX)


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
