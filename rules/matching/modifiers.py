"""The modifiers of ``match`` selections: one explicit table from name to implementation.

Each entry of :data:`OPERATORS` is ``name -> (implementation(value, operand), operand kind,
description)``; :func:`prepare_operand` checks and prepares an operand once, when the rule
loads, by its kind (``scalar``, ``list``, ``texts``, ``regex``, ``number``, ``bool``), so
matching an event only calls the implementation.

Examples:
    >>> fn, kind, _ = OPERATORS["gte"]
    >>> kind, fn(120, prepare_operand("gte", 100, "attrs.rows|gte", {}))
    ('number', True)
    >>> OPERATORS["in"][0]("tax", prepare_operand("in", "$list:sets", "attrs.d|in", {"sets": ("tax",)}))
    True
    >>> prepare_operand("re", "x(?=y)", "attrs.x|re", {})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: 'attrs.x|re' has a bad regular expression: regular expressions run on RE2, ...
"""  # noqa: E501

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from rules.matching.regex import Regex, RegexError, compile_regex

LIST_PREFIX = "$list:"


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


def _re(value: Any, operand: tuple[Regex, ...]) -> bool:
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


def list_operand(raw: Any, where: str, lists: Mapping[str, tuple[Any, ...]]) -> list[Any]:
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


def prepare_operand(op: str, raw: Any, where: str, lists: Mapping[str, tuple[Any, ...]]) -> Any:
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
    items = list_operand(raw, where, lists)
    if not items or any(isinstance(x, dict | list) for x in items):
        raise ValueError(f"'{where}' needs a value or a non-empty list of values")
    if kind == "list":
        return frozenset(str(x) for x in items) | frozenset(items)
    texts = tuple(str(x) for x in items)
    if kind == "regex":
        try:
            return tuple(compile_regex(t) for t in texts)
        except RegexError as exc:
            raise ValueError(f"'{where}' has a bad regular expression: {exc}") from None
    return tuple(t.casefold() for t in texts) if op == "icontains" else texts


def is_list_ref(raw: Any) -> bool:
    """Whether ``raw`` names a shared list (``$list:name``)."""
    return isinstance(raw, str) and raw.startswith(LIST_PREFIX)
