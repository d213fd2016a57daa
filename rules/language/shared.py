"""Named lists and macros shared by the rules of a folder.

A shared file holds ``lists`` and/or ``macros`` and no ``id``::

    lists:
      sensitive_datasets: [medical, household]       # or {items: [...], description: ...}
    macros:
      office_hours: "hour(ts_ms) >= 8 and hour(ts_ms) < 18 and is_workday(ts_ms)"

Rules use a list as ``$list:name`` (in ``match`` operands and ``where``) and a macro by
its name in ``where``. A macro may use any list and the macros defined before it (files
in name order, then file order), so there are no cycles. A name may be defined once.

Examples:
    >>> shared = Shared()
    >>> text = "lists: {hours: [1, 2]}\\nmacros: {early: 'hour(ts_ms) in $list:hours'}\\n"
    >>> add_shared(shared, text, "_shared.yaml")
    >>> sorted(shared.lists), shared.macros["early"].lists
    (['hours'], frozenset({'hours'}))
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from envelope.paths import TOP_FIELDS
from rules.language.errors import RuleError
from rules.language.fields import Block, Ctx, Field, Kind, Loc, Reader, Text, loc_of
from rules.language.valuekinds import expr_error
from rules.language.yamlloc import load_located
from rules.matching.expr import ExprError
from rules.matching.expr_compile import FUNCTIONS, Expr, compile_expr

NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
RESERVED = {"and", "or", "not", "in", "true", "false", "null", "attrs", "entity", *TOP_FIELDS}


@dataclass
class Shared:
    """Lists (name -> items) and compiled macros, with where each was defined."""

    lists: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    macros: dict[str, Expr] = field(default_factory=dict)
    where: dict[str, tuple[str, int, int]] = field(default_factory=dict)

    def ctx(self, path: str) -> Ctx:
        return Ctx(path, self.lists, self.macros)


@dataclass(frozen=True)
class _Named(Kind):
    """A mapping of names to definitions (lists or macros)."""

    what: str

    def parse(self, raw: Any, loc: Loc, ctx: Ctx) -> Any:
        if not isinstance(raw, dict):
            raise loc.error(f"'{self.what}' must be a mapping of names to definitions")
        return raw

    def schema(self) -> dict[str, Any]:
        scalar = {"type": ["string", "number", "boolean"]}
        items = {"type": "array", "items": scalar, "minItems": 1}
        if self.what == "lists":
            one: dict[str, Any] = {
                "oneOf": [
                    items,
                    {
                        "type": "object",
                        "required": ["items"],
                        "properties": {
                            "items": items,
                            "description": {"type": "string"},
                            "owner": {"type": "string"},
                        },
                        "additionalProperties": False,
                    },
                ]
            }
        else:
            one = {
                "oneOf": [
                    {"type": "string", "minLength": 1},
                    {
                        "type": "object",
                        "required": ["expr"],
                        "properties": {
                            "expr": {"type": "string"},
                            "description": {"type": "string"},
                        },
                        "additionalProperties": False,
                    },
                ]
            }
        return {
            "type": "object",
            "propertyNames": {"pattern": NAME.pattern},
            "additionalProperties": one,
        }


SHARED = Block(
    "shared file",
    (
        Field("description", Text()),
        Field("lists", _Named("lists"), doc="named lists, used as $list:name"),
        Field("macros", _Named("macros"), doc="named conditions, used by name in 'where'"),
    ),
    doc="lists and macros shared by the rules of a folder",
)


def is_shared(node: Any) -> bool:
    """Does a parsed YAML file hold shared definitions rather than a rule?"""
    return isinstance(node, dict) and "id" not in node and ("lists" in node or "macros" in node)


def add_shared(shared: Shared, text: str, path: str, part: str = "both") -> None:
    """Parse one shared file into ``shared``; raises RuleError at the offending name.

    ``part`` is ``lists``, ``macros`` or ``both``: a folder loads every file's lists
    first, then every file's macros, so a macro may use a list from any file.
    """
    node = load_located(text, path)
    if not isinstance(node, dict):
        raise RuleError(path, 1, 1, "a shared file holds 'lists:' and/or 'macros:'")
    if "id" in node and "type" in node:  # a rule put in a subfolder
        line, col = node.key_pos.get("id", (1, 1)) if hasattr(node, "key_pos") else (1, 1)
        raise RuleError(
            path,
            line,
            col,
            "this is a rule, and rules are read only at the top of the rules folder"
            " (subfolders hold lists and macros): move it up",
        )
    values = SHARED.parse(node, Loc(path, 1, 1), Ctx(path))
    if part in ("lists", "both"):
        for name, raw in (values["lists"] or {}).items():
            _define(shared, name, values["lists"], path, "list")
            shared.lists[name] = _items(raw, Reader(values["lists"], path), name)
    if part in ("macros", "both"):
        for name, raw in (values["macros"] or {}).items():
            _define(shared, name, values["macros"], path, "macro")
            shared.macros[name] = _macro(raw, values["macros"], name, path, shared)


def _define(shared: Shared, name: Any, node: Any, path: str, what: str) -> None:
    reader = Reader(node, path)
    if not isinstance(name, str) or not NAME.match(name) or name in RESERVED or name in FUNCTIONS:
        raise reader.fail(
            str(name),
            f"{what} name {name!r} must be lowercase letters, digits "
            "and '_', and not a field, keyword or function name",
        )
    if name in shared.where:
        first = shared.where[name]
        raise reader.fail(
            name,
            f"{name!r} is already defined at {first[0]}:{first[1]}: "
            "give each list and macro its own name",
        )
    line, col = node.key_pos.get(name, (1, 1)) if hasattr(node, "key_pos") else (1, 1)
    shared.where[name] = (path, line, col)


def _items(raw: Any, reader: Reader, name: str) -> tuple[Any, ...]:
    if isinstance(raw, dict):
        extra = set(raw) - {"items", "description", "owner"}
        if extra or "items" not in raw:
            raise reader.fail(
                name, f"list {name!r} is a list, or {{items: [...], description: ...}}"
            )
        raw = raw["items"]
    ok = isinstance(raw, list) and raw and all(isinstance(x, str | int | float) for x in raw)
    if not ok:
        raise reader.fail(name, f"list {name!r} needs one or more single values")
    return tuple(raw)


def _macro(raw: Any, node: Any, name: str, path: str, shared: Shared) -> Expr:
    reader = Reader(node, path)
    loc = loc_of(node, name, path)
    if isinstance(raw, dict):
        if set(raw) - {"expr", "description"} or not isinstance(raw.get("expr"), str):
            raise reader.fail(
                name, f"macro {name!r} is an expression, or {{expr: ..., description: ...}}"
            )
        loc = loc_of(raw, "expr", path)
        raw = raw["expr"]
    if not isinstance(raw, str):
        raise reader.fail(name, f"macro {name!r} must be an expression in quotes")
    try:
        return compile_expr(raw, shared.lists, shared.macros)
    except ExprError as exc:
        raise expr_error(loc, raw, exc) from None
