"""Type-check a parsed ``where`` expression at load time and compile it into closures.

Types: ``num``, ``str``, ``bool``, ``list``, ``null`` and ``any`` (an attribute, whose type
only the event knows). Mixing known types wrongly (``region > 5``, ``'a' + 1``,
``not attrs.n + 1``) is a load error. At run time nothing raises: a missing value is null,
a comparison with null or with a value of the wrong type is false, arithmetic on null is
null, and only a boolean ``true`` makes the rule match.

Examples:
    >>> from envelope.build import EventMaker
    >>> make_event = EventMaker()
    >>> ev = make_event(ts_ms=1772414100000, rows=120, dataset="medical")
    >>> compile_expr("attrs.rows * 2 >= 240 and attrs.dataset in $list:sensitive",
    ...     lists={"sensitive": ("medical", "tax")}).holds(ev)
    True
    >>> compile_expr("hour(ts_ms) < 8 or attrs.missing > 3").holds(ev)
    False
    >>> compile_expr("region > 5")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    rules.matching.expr.ExprError: at 7: '>' compares text with a number, ... num(region) > 5
"""

from __future__ import annotations

import difflib
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from envelope import calendar
from envelope.paths import getter, path_error
from envelope.time import local_hour, local_weekday
from rules.matching.expr import Bin, Call, ExprError, ListLit, ListRef, Lit, Name, Neg, Not, parse
from rules.matching.regex import Regex, RegexError, compile_regex

Fn = Callable[[Any], Any]
ANY, NUM, STR, BOOL, LIST, NULL = "any", "num", "str", "bool", "list", "null"
_NAMES = {NUM: "a number", STR: "text", BOOL: "true/false", LIST: "a list", NULL: "null"}


def field_type(path: str) -> str:
    """The static type of an event field: attributes are ``any``."""
    if path.startswith("attrs."):
        return ANY
    return NUM if path == "ts_ms" else STR


def _type_of(value: Any) -> str:
    if value is None:
        return NULL
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int | float):
        return NUM
    return LIST if isinstance(value, list | tuple | frozenset) else STR


def _safe(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Null in, null out; a runtime type mismatch gives null instead of raising."""
    errors = (TypeError, ValueError, OverflowError, ZeroDivisionError)

    def call(*args: Any) -> Any:
        if None in args:
            return None
        try:
            return fn(*args)
        except errors:
            return None

    return call


def _safe1(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """:func:`_safe` for one argument (the common case, on the hot path)."""
    errors = (TypeError, ValueError, OverflowError, ZeroDivisionError)

    def call(a: Any) -> Any:
        if a is None:
            return None
        try:
            return fn(a)
        except errors:
            return None

    return call


def _to_num(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _time(fn: Callable[[int], Any]) -> Callable[[Any], Any]:
    """A calendar function of an epoch-ms time; null for anything else."""

    def call(t: Any) -> Any:
        if type(t) is int:
            return fn(t)
        if type(t) is float and t == t and abs(t) < 1e15:
            return fn(int(t))
        return None

    return call


# Function table: name -> (argument types, result type, implementation).
FUNCTIONS: dict[str, tuple[tuple[str, ...], str, Callable[..., Any]]] = {
    "len": ((ANY,), NUM, lambda x: len(x) if isinstance(x, str | list | dict) else None),
    "lower": ((STR,), STR, lambda s: s.lower() if isinstance(s, str) else None),
    "upper": ((STR,), STR, lambda s: s.upper() if isinstance(s, str) else None),
    "abs": ((NUM,), NUM, _safe1(lambda n: abs(_num_or_fail(n)))),
    "num": ((ANY,), NUM, _to_num),
    "str": ((ANY,), STR, _safe1(str)),
    "hour": ((NUM,), NUM, _time(local_hour)),
    "weekday": ((NUM,), NUM, _time(local_weekday)),
    "is_workday": ((NUM,), BOOL, _time(calendar.is_workday)),
    "exists": ((ANY,), BOOL, lambda x: x is not None),
    "coalesce": ((ANY, ANY), ANY, lambda a, b: b if a is None else a),
}

_CMP = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
_ARITH = {"-": operator.sub, "*": operator.mul, "/": operator.truediv, "%": operator.mod}


@dataclass(frozen=True)
class Expr:
    """A compiled expression: ``holds(event)`` is True only for a boolean true result."""

    text: str
    fn: Fn = field(repr=False, compare=False)
    type: str = BOOL
    lists: frozenset[str] = frozenset()
    macros: frozenset[str] = frozenset()

    def holds(self, event: Any) -> bool:
        return self.fn(event) is True

    def value(self, event: Any) -> Any:
        return self.fn(event)


class _Compiler:
    def __init__(self, lists: Mapping[str, tuple[Any, ...]], macros: Mapping[str, Expr]) -> None:
        self.lists, self.macros = lists, macros
        self.used_lists: set[str] = set()
        self.used_macros: set[str] = set()

    def compile(self, node: Any) -> tuple[Fn, str]:
        method = getattr(self, "_" + type(node).__name__.lower())
        return method(node)

    def _lit(self, node: Lit) -> tuple[Fn, str]:
        value = node.value
        return (lambda ev: value), _type_of(value)

    def _name(self, node: Name) -> tuple[Fn, str]:
        if node.name in self.macros:
            macro = self.macros[node.name]
            self.used_macros.add(node.name)
            self.used_macros |= macro.macros
            self.used_lists |= macro.lists
            return macro.fn, macro.type
        if path_error(node.name) is None:
            return getter(node.name), field_type(node.name)
        hint = difflib.get_close_matches(node.name, list(self.macros), n=1)
        also = f"; did you mean the macro {hint[0]!r}?" if hint else ""
        raise ExprError(node.at, f"{path_error(node.name)}{also}")

    def _listref(self, node: ListRef) -> tuple[Fn, str]:
        if node.name not in self.lists:
            known = ", ".join(sorted(self.lists)) or "none defined"
            raise ExprError(node.at, f"unknown list {node.name!r} (known: {known})")
        self.used_lists.add(node.name)
        items = frozenset(self.lists[node.name]) | frozenset(str(x) for x in self.lists[node.name])
        return (lambda ev: items), LIST

    def _listlit(self, node: ListLit) -> tuple[Fn, str]:
        if not all(isinstance(x, Lit) for x in node.items):
            raise ExprError(node.at, "a list in an expression holds literal values only")
        values = [x.value for x in node.items]
        items = frozenset(values) | frozenset(str(v) for v in values if v is not None)
        return (lambda ev: items), LIST

    def _not(self, node: Not) -> tuple[Fn, str]:
        fn, t = self.compile(node.x)
        self._want(node.at, "not", t, BOOL)
        return (lambda ev: fn(ev) is not True), BOOL

    def _neg(self, node: Neg) -> tuple[Fn, str]:
        fn, t = self.compile(node.x)
        self._want(node.at, "-", t, NUM)
        neg = _safe1(lambda v: -_num_or_fail(v))
        return (lambda ev: neg(fn(ev))), NUM

    def _call(self, node: Call) -> tuple[Fn, str]:
        if node.name not in FUNCTIONS:
            known = ", ".join(sorted(FUNCTIONS))
            raise ExprError(node.at, f"unknown function {node.name!r}: use one of {known}")
        arg_types, result, impl = FUNCTIONS[node.name]
        if len(node.args) != len(arg_types):
            raise ExprError(node.at, f"{node.name}() takes {len(arg_types)} argument(s)")
        fns = []
        for arg, want in zip(node.args, arg_types, strict=True):
            fn, t = self.compile(arg)
            self._want(arg.at, f"{node.name}()", t, want)
            fns.append(fn)
        if len(fns) == 1:
            only = fns[0]
            return (lambda ev: impl(only(ev))), result
        if len(fns) == 2:
            f1, f2 = fns
            return (lambda ev: impl(f1(ev), f2(ev))), result
        return (lambda ev: impl(*(f(ev) for f in fns))), result

    def _bin(self, node: Bin) -> tuple[Fn, str]:
        a, ta = self.compile(node.a)
        b, tb = self.compile(node.b)
        op = node.op
        if op in ("and", "or"):
            self._want(node.a.at, op, ta, BOOL)
            self._want(node.b.at, op, tb, BOOL)
            if op == "and":
                return (lambda ev: a(ev) is True and b(ev) is True), BOOL
            return (lambda ev: a(ev) is True or b(ev) is True), BOOL
        if op in ("==", "!="):
            self._comparable(node, ta, tb, equality=True)
            if op == "==":
                return (lambda ev: a(ev) == b(ev)), BOOL
            return (lambda ev: a(ev) != b(ev)), BOOL
        if op in _CMP:
            return self._order(node, a, ta, b, tb)
        return self._other(node, a, ta, b, tb)

    def _order(self, node: Bin, a: Fn, ta: str, b: Fn, tb: str) -> tuple[Fn, str]:
        self._comparable(node, ta, tb, equality=False)
        cmp = _CMP[node.op]
        if isinstance(node.b, Lit) and type(node.b.value) in (int, float, str):
            lit = node.b.value
            kinds = (str,) if isinstance(lit, str) else (int, float)
            return (lambda ev: type(x := a(ev)) in kinds and cmp(x, lit)), BOOL

        def order(ev: Any) -> bool:
            x, y = a(ev), b(ev)
            if x is None or y is None or isinstance(x, bool) or isinstance(y, bool):
                return False
            try:
                return bool(cmp(x, y))
            except TypeError:
                return False

        return order, BOOL

    def _other(self, node: Bin, a: Fn, ta: str, b: Fn, tb: str) -> tuple[Fn, str]:
        op = node.op
        if op == "+":
            if {ta, tb} <= {NUM, ANY, NULL} or {ta, tb} <= {STR, ANY, NULL}:
                add = _safe(lambda x, y: x + y if type(x) is type(y) or _both_num(x, y) else None)
                rtype = NUM if NUM in (ta, tb) else STR if STR in (ta, tb) else ANY
                return (lambda ev: add(a(ev), b(ev))), rtype
            raise ExprError(
                node.at,
                f"'+' adds two numbers or joins two texts, "
                f"got {_NAMES.get(ta, ta)} and {_NAMES.get(tb, tb)}",
            )
        if op in _ARITH:
            self._want(node.a.at, op, ta, NUM)
            self._want(node.b.at, op, tb, NUM)
            arith = _safe(lambda x, y, f=_ARITH[op]: f(_num_or_fail(x), _num_or_fail(y)))
            return (lambda ev: arith(a(ev), b(ev))), NUM
        if op in ("in", "not in"):
            if tb not in (LIST, STR, ANY):
                raise ExprError(node.b.at, f"'{op}' needs a list or a text on its right")
            member = _safe(lambda x, y: x in y or (not isinstance(y, str) and str(x) in y))
            if op == "in":
                return (lambda ev: member(a(ev), b(ev)) is True), BOOL
            return (lambda ev: member(a(ev), b(ev)) is not True), BOOL
        return self._text_op(node, a, ta, b, tb)

    def _text_op(self, node: Bin, a: Fn, ta: str, b: Fn, tb: str) -> tuple[Fn, str]:
        op = node.op
        if op == "matches":
            if not isinstance(node.b, Lit) or not isinstance(node.b.value, str):
                raise ExprError(node.b.at, "'matches' needs a quoted regular expression")
            try:
                pattern = compile_regex(node.b.value)
            except RegexError as exc:
                raise ExprError(node.b.at, f"bad regular expression: {exc}") from None
            self._want(node.a.at, op, ta, STR)
            return (lambda ev: _search(pattern, a(ev))), BOOL
        if op == "contains":
            if ta not in (STR, LIST, ANY):
                raise ExprError(node.a.at, "'contains' needs a text or a list on its left")
            has = _safe(lambda x, y: y in x if isinstance(x, list) or isinstance(y, str) else None)
            return (lambda ev: has(a(ev), b(ev)) is True), BOOL
        self._want(node.a.at, op, ta, STR)
        self._want(node.b.at, op, tb, STR)
        name = op
        test = _safe(lambda x, y: isinstance(x, str) and isinstance(y, str) and getattr(x, name)(y))
        return (lambda ev: test(a(ev), b(ev)) is True), BOOL

    @staticmethod
    def _want(at: int, op: str, got: str, want: str) -> None:
        if got in (want, ANY, NULL) or want == ANY:
            return
        raise ExprError(at, f"'{op}' needs {_NAMES[want]} here, got {_NAMES[got]}")

    @staticmethod
    def _comparable(node: Bin, ta: str, tb: str, equality: bool) -> None:
        known = {ta, tb} - {ANY, NULL}
        if len(known) < 2:
            if not equality and known & {BOOL, LIST}:
                raise ExprError(node.at, f"'{node.op}' orders numbers or texts only")
            return
        if ta == tb and (equality or ta in (NUM, STR)):
            return
        message = f"'{node.op}' compares {_NAMES[ta]} with {_NAMES[tb]}, which is never true"
        if {ta, tb} == {STR, NUM} and isinstance(node.a, Name) and isinstance(node.b, Lit):
            a, v = node.a.name, node.b.value
            message += f": write {a} {node.op} '{v}' or num({a}) {node.op} {v}"
        raise ExprError(node.at, message)


def _both_num(x: Any, y: Any) -> bool:
    return _to_num(x) is not None and _to_num(y) is not None and not isinstance(x, str | bool)


def _num_or_fail(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise TypeError("not a number")
    return v


def _search(pattern: Regex, value: Any) -> bool:
    return isinstance(value, str) and pattern.search(value)


def compile_expr(
    text: str,
    lists: Mapping[str, tuple[Any, ...]] | None = None,
    macros: Mapping[str, Expr] | None = None,
    want_bool: bool = True,
) -> Expr:
    """Parse, type-check and compile ``text``; raises :class:`ExprError` with an offset."""
    compiler = _Compiler(lists or {}, macros or {})
    fn, t = compiler.compile(parse(text))
    if want_bool and t not in (BOOL, ANY, NULL):
        raise ExprError(
            0, f"the expression gives {_NAMES[t]}, not true/false: compare it, like ... > 0"
        )
    return Expr(text, fn, t, frozenset(compiler.used_lists), frozenset(compiler.used_macros))
