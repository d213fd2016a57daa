"""Value kinds that only rule files use: selections, expressions, conditions,
aggregates, templates, percentages, dates, detector parameters and key lists. Each
parses a YAML value (errors at ``file:line:col``) and describes itself as JSON Schema
(see :mod:`rules.language.fields`).

Examples:
    >>> from rules.language.fields import Ctx, Loc
    >>> AggregateKind().parse("percentile(attrs.rows, 95)", Loc("r.yaml", 1, 1), Ctx("r.yaml"))
    Aggregate(name='percentile', field='attrs.rows', p=95.0)
    >>> LimitsKind().parse({"between": [1, 5]}, Loc("r.yaml", 1, 1), Ctx("r.yaml")).holds(5)
    True
    >>> Percent().parse("80%", Loc("r.yaml", 1, 1), Ctx("r.yaml"))
    0.8
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from envelope.paths import path_error
from rules.language.errors import RuleError
from rules.language.fields import Ctx, Kind, Loc, Many, Reader, Text
from rules.language.yamlloc import position_in
from rules.matching.expr import ExprError
from rules.matching.expr_compile import Expr, compile_expr
from rules.matching.modifiers import LIST_PREFIX, OPERATORS
from rules.matching.normalise import NORMALISERS
from rules.matching.selection import compile_selection
from rules.matching.templates import Template, compile_template
from rules.types.aggregates import AGGREGATORS, COMPARATORS, RANGES, Limits


@dataclass(frozen=True)
class Percent(Kind):
    def parse(self, raw: Any, loc: Loc, ctx: Ctx) -> float:
        text = str(raw).strip()
        try:
            value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
        except ValueError:
            value = -1.0
        if isinstance(raw, bool) or not 0 < value <= 10:
            raise loc.error(f"must be a share of the deadline like '80%' or 0.8, got {raw!r}")
        return value

    def schema(self) -> dict[str, Any]:
        return {
            "oneOf": [
                {"type": "string", "pattern": r"^\d+(\.\d+)?%$"},
                {"type": "number", "exclusiveMinimum": 0},
            ]
        }


@dataclass(frozen=True)
class DateKind(Kind):
    def parse(self, raw: Any, loc: Loc, ctx: Ctx) -> date:
        if isinstance(raw, datetime):
            return raw.date()
        if isinstance(raw, date):
            return raw
        try:
            return date.fromisoformat(str(raw))
        except ValueError:
            raise loc.error(f"must be a date like 2026-12-31, got {raw!r}") from None

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "format": "date"}


@dataclass(frozen=True)
class Free(Kind):
    """A free mapping (detector parameters): scalars only."""

    def parse(self, raw: Any, loc: Loc, ctx: Ctx) -> tuple[tuple[str, Any], ...]:
        if not isinstance(raw, dict) or any(isinstance(v, dict | list) for v in raw.values()):
            raise loc.error("must be a mapping of names to single values")
        return tuple(sorted((str(k), v) for k, v in raw.items()))

    def schema(self) -> dict[str, Any]:
        return {"type": "object"}


@dataclass(frozen=True)
class SelectionKind(Kind):
    def parse(self, raw: Any, loc: Loc, ctx: Ctx) -> Any:
        if isinstance(raw, dict | list):
            if not hasattr(raw, "pos"):
                raw = raw  # plain data (built in code): positions default to the key's
            sel = compile_selection(raw, loc.path, ctx.lists)
            ctx.used_lists |= sel.lists
            return sel
        raise loc.error("must be a mapping like {type: application.accepted} or a list of them")

    def schema(self) -> dict[str, Any]:
        ops = "|".join(sorted(OPERATORS))
        norms = "|".join(("norm", *NORMALISERS))
        one = {
            "type": "object",
            "minProperties": 1,
            "propertyNames": {"pattern": rf"^[A-Za-z_][\w.-]*(\|({norms}))?(\|({ops}))?$"},
        }
        return {"oneOf": [one, {"type": "array", "items": one, "minItems": 1}]}


@dataclass(frozen=True)
class ExprKind(Kind):
    def parse(self, raw: Any, loc: Loc, ctx: Ctx) -> Expr:
        if not isinstance(raw, str):
            raise loc.error('must be an expression in quotes, like "attrs.rows > 100"')
        try:
            expr = compile_expr(raw, ctx.lists, ctx.macros)
        except ExprError as exc:
            raise expr_error(loc, raw, exc) from None
        ctx.used_lists |= expr.lists
        ctx.used_macros |= expr.macros
        return expr

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "minLength": 1}


def expr_error(loc: Loc, text: str, exc: ExprError) -> RuleError:
    """Point at the character of a one-line expression; at its line for a block."""
    before = text[: exc.at]
    vline, vcol = loc.value_at or (loc.line, loc.col)
    if loc.source is not None and loc.value_at is not None and exc.at < len(text):
        found = position_in(loc.source, loc.value_at, text, exc.at)
        if found is not None:
            return RuleError(loc.path, *found, f"in expression: {exc.message}")
    if loc.style in ("", "'", '"') and "\n" not in before:
        col = vcol + exc.at + (1 if loc.style else 0)
        return RuleError(loc.path, vline, col, f"in expression: {exc.message}")
    line = vline + before.count("\n") + (1 if loc.style in ("|", ">") else 0)
    return RuleError(loc.path, line, loc.col, f"in expression: {exc.message}")


@dataclass(frozen=True)
class LimitsKind(Kind):
    """``{gte: 3}``, ``{gt: 0.4, lte: 0.9}``, ``{between: [1, 5]}``: all must hold."""

    def parse(self, raw: Any, loc: Loc, ctx: Ctx) -> Limits:
        if not isinstance(raw, dict) or not raw:
            raise loc.error("must be a mapping of comparisons like {gte: 3} or {between: [1, 5]}")
        reader = Reader(raw, loc.path)
        parts = []
        for op, operand in raw.items():
            if op not in COMPARATORS:
                raise reader.fail(op, f"unknown comparison {op!r}: use {', '.join(COMPARATORS)}")
            parts.append((op, _operand(op, operand, reader)))
        if not satisfiable(parts):
            shown = ", ".join(f"{op}: {_show(v)}" for op, v in parts)
            raise loc.error(
                f"no value can meet {{{shown}}}, so the rule could never fire: "
                "check the bounds' direction"
            )
        return Limits(tuple(parts))

    def schema(self) -> dict[str, Any]:
        num = {"type": "number"}
        pair = {"type": "array", "items": num, "minItems": 2, "maxItems": 2}
        props = {op: (pair if op in RANGES else num) for op in COMPARATORS}
        return {
            "type": "object",
            "properties": props,
            "additionalProperties": False,
            "minProperties": 1,
        }


def satisfiable(parts: list[tuple[str, Any]]) -> bool:  # noqa: C901 one branch per comparison operator
    """Whether some number meets every comparison (all of them must hold).

    >>> satisfiable([("gte", 5.0), ("lte", 2.0)]), satisfiable([("gt", 2.0), ("lte", 2.0)])
    (False, False)
    >>> satisfiable([("gte", 2.0), ("lte", 2.0)])
    True
    >>> satisfiable([("between", (1.0, 5.0)), ("gt", 4.0)])
    True
    >>> satisfiable([("eq", 3.0), ("outside", (2.0, 4.0))]), satisfiable([("eq", 3.0), ("ne", 3.0)])
    (False, False)
    >>> satisfiable([("gte", 2.0), ("lte", 4.0), ("outside", (1.0, 5.0))])
    False
    """
    lo, lo_open, hi, hi_open = -math.inf, False, math.inf, False
    for op, v in parts:
        if op in ("gt", "gte") and (v > lo or (v == lo and op == "gt")):
            lo, lo_open = v, op == "gt"
        elif op in ("lt", "lte") and (v < hi or (v == hi and op == "lt")):
            hi, hi_open = v, op == "lt"
        elif op == "eq":
            if not (lo < v or (lo == v and not lo_open)):
                return False
            lo, lo_open = v, False
            if not (v < hi or (v == hi and not hi_open)):
                return False
            hi, hi_open = v, False
        elif op == "between":
            if v[0] > lo:
                lo, lo_open = v[0], False
            if v[1] < hi:
                hi, hi_open = v[1], False
    if lo > hi or (lo == hi and (lo_open or hi_open)):
        return False
    for op, v in parts:  # an 'outside' range that covers the whole interval leaves nothing
        if op == "outside" and v[0] <= lo and hi <= v[1]:
            return False
    if lo == hi:  # a single value: it must pass the exclusions too
        return all(op != "ne" or lo != v for op, v in parts)
    return True


def _show(v: Any) -> str:
    return f"[{v[0]:g}, {v[1]:g}]" if isinstance(v, tuple) else f"{v:g}"


def _operand(op: str, value: Any, reader: Reader) -> Any:
    def num(x: Any) -> bool:
        return isinstance(x, int | float) and not isinstance(x, bool)

    if op in RANGES:
        if not (isinstance(value, list) and len(value) == 2 and all(map(num, value))):
            raise reader.fail(op, f"'{op}' needs two numbers, like {op}: [1, 5]")
        if value[0] > value[1]:
            raise reader.fail(op, f"'{op}' needs the low end first, like {op}: [1, 5]")
        return (float(value[0]), float(value[1]))
    if not num(value) or value != value:
        raise reader.fail(op, f"'{op}' needs a number, got {value!r}")
    return float(value)


@dataclass(frozen=True, slots=True)
class Aggregate:
    """``count``, ``distinct(field)``, ``sum/avg/min/max(field)``, ``percentile(field, p)``."""

    name: str
    field: str | None = None
    p: float = 0.0

    def make(self) -> Any:
        return AGGREGATORS[self.name](self.p)

    def text(self) -> str:
        if self.field is None:
            return self.name
        extra = f", {self.p:g}" if self.name == "percentile" else ""
        return f"{self.name}({self.field}{extra})"


@dataclass(frozen=True)
class AggregateKind(Kind):
    def parse(self, raw: Any, loc: Loc, ctx: Ctx) -> Aggregate:
        if isinstance(raw, str):
            name, _, rest = raw.replace(" ", "").partition("(")
            args = rest.rstrip(")").split(",") if rest else []
            if rest and not rest.endswith(")"):
                raise loc.error(f"{raw!r} must be written like percentile(attrs.amount, 95)")
        elif isinstance(raw, dict) and len(raw) == 1:
            name, value = next(iter(raw.items()))
            args = [str(x) for x in value] if isinstance(value, list) else [str(value)]
        else:
            raise loc.error("must be count, or like distinct(attrs.citizen) or {sum: attrs.rows}")
        return _aggregate(str(name), args, loc)

    def schema(self) -> dict[str, Any]:
        names = "|".join(AGGREGATORS)
        pattern = rf"^\s*(count|({names})\(\s*[\w.-]+\s*(,\s*\d+(\.\d+)?\s*)?\))\s*$"
        obj = {
            "type": "object",
            "minProperties": 1,
            "maxProperties": 1,
            "propertyNames": {"enum": [n for n in AGGREGATORS if n != "count"]},
        }
        return {"oneOf": [{"type": "string", "pattern": pattern}, obj]}


def _aggregate(name: str, args: list[str], loc: Loc) -> Aggregate:
    if name not in AGGREGATORS:
        raise loc.error(f"unknown aggregate {name!r}: use one of {', '.join(AGGREGATORS)}")
    if name == "count":
        if args:
            raise loc.error("'count' takes no field: write aggregate: count")
        return Aggregate("count")
    want = 2 if name == "percentile" else 1
    if len(args) != want:
        form = "percentile(attrs.amount, 95)" if want == 2 else f"{name}(attrs.field)"
        raise loc.error(f"'{name}' needs {want} argument(s), like {form}")
    problem = path_error(args[0])
    if problem:
        raise loc.error(f"in {name}(): {problem}")
    p = 0.0
    if name == "percentile":
        try:
            p = float(args[1])
        except ValueError:
            p = -1.0
        if not 0 <= p <= 100:
            raise loc.error("the percentile must be a number from 0 to 100, like 95")
    return Aggregate(name, args[0], p)


@dataclass(frozen=True)
class TemplateKind(Kind):
    def parse(self, raw: Any, loc: Loc, ctx: Ctx) -> Template:
        if not isinstance(raw, str):
            raise loc.error("must be text with {placeholders}")
        try:
            return compile_template(raw, ctx.names)
        except ValueError as exc:
            raise loc.error(str(exc)) from None

    def schema(self) -> dict[str, Any]:
        return {"type": "string"}


@dataclass(frozen=True)
class KeysKind(Kind):
    """Known keys: a list of texts or ``$list:name``."""

    def parse(self, raw: Any, loc: Loc, ctx: Ctx) -> tuple[str, ...]:
        if isinstance(raw, str) and raw.startswith(LIST_PREFIX):
            name = raw[len(LIST_PREFIX) :]
            if name not in ctx.lists:
                raise loc.error(f"unknown list {name!r}: define it under 'lists:' in a shared file")
            ctx.used_lists.add(name)
            return tuple(str(x) for x in ctx.lists[name])
        return tuple(Many(Text()).parse(raw, loc, ctx))

    def schema(self) -> dict[str, Any]:
        return {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}
