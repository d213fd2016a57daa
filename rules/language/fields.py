"""Field tables: one declaration per rule key drives both the parser and the JSON Schema.

A :class:`Block` is an ordered table of :class:`Field` s, each with a *kind* that knows
how to parse a YAML value (raising :class:`~rules.language.errors.RuleError` at its ``file:line``)
and how to describe itself as JSON Schema. Nothing else lists the keys of a rule file,
so the shipped schema cannot drift from what the loader accepts.

Examples:
    >>> from rules.language.yamlloc import load_located
    >>> block = Block("deadline", (Field("after", Duration(), required=True),))
    >>> block.parse(load_located("after: 5d", "r.yaml"), Loc("r.yaml", 1, 1), Ctx("r.yaml"))
    {'after': 432000000}
    >>> block.parse(load_located("aftr: 5d", "r.yaml"), Loc("r.yaml", 1, 1), Ctx("r.yaml"))
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    rules.language.errors.RuleError: r.yaml:1:1: unknown key 'aftr' in deadline: ...
    >>> block.schema()["properties"]["after"]["pattern"]
    '^\\\\s*(\\\\d+[smhdw])+\\\\s*$'
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from envelope.paths import path_error
from envelope.time import parse_duration_ms
from rules.language.errors import RuleError
from rules.matching.expr_compile import Expr
from rules.matching.normalise import NORMALISERS


@dataclass
class Ctx:
    """What parsing a file needs besides the text: shared lists and macros, and what the
    rule used of them (they count for its logic hash)."""

    path: str
    lists: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    macros: Mapping[str, Expr] = field(default_factory=dict)
    used_lists: set[str] = field(default_factory=set)
    used_macros: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)  # group_by names templates may use


@dataclass(frozen=True, slots=True)
class Loc:
    """Where a value sits: ``path:line:col`` of its key and, for text, where the text
    starts and how it is quoted (``value_at``, ``style``)."""

    path: str
    line: int
    col: int
    style: str = ""
    value_at: tuple[int, int] | None = None
    source: str | None = None  # the file text of a value that spans lines

    def error(self, message: str) -> RuleError:
        return RuleError(self.path, self.line, self.col, message)


def loc_of(node: Any, key: str, path: str) -> Loc:
    """The location of ``node[key]``: its key, and where a text value starts."""
    line, col = getattr(node, "key_pos", {}).get(key, getattr(node, "pos", (1, 1)))
    vpos = getattr(node, "val_pos", {}).get(key)
    if vpos is None:
        return Loc(path, line, col)
    return Loc(path, line, col, vpos[2], (vpos[0], vpos[1]), vpos[3] if len(vpos) > 3 else None)


class Kind:
    """A value kind: ``parse`` raw YAML into a typed value; ``schema`` describes it."""

    doc = ""

    def parse(self, raw: Any, loc: Loc, ctx: Ctx) -> Any:
        raise NotImplementedError

    def schema(self) -> dict[str, Any]:
        raise NotImplementedError


@dataclass(frozen=True)
class Text(Kind):
    pattern: str | None = None
    hint: str = "text"

    def parse(self, raw: Any, loc: Loc, ctx: Ctx) -> str:
        if isinstance(raw, int | float) and not isinstance(raw, bool) and self.pattern is None:
            raw = str(raw)
        if not isinstance(raw, str) or not raw.strip():
            raise loc.error(f"must be {self.hint}, got {raw!r}")
        if self.pattern and not re.match(self.pattern, raw):
            raise loc.error(f"{raw!r} must be {self.hint}")
        return raw

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "string", "minLength": 1}
        if self.pattern:
            out["pattern"] = self.pattern
        return out


@dataclass(frozen=True)
class Number(Kind):
    minimum: float | None = None
    maximum: float | None = None
    integer: bool = False

    def parse(self, raw: Any, loc: Loc, ctx: Ctx) -> float | int:
        ok = isinstance(raw, int) if self.integer else isinstance(raw, int | float)
        if isinstance(raw, bool) or not ok or raw != raw:
            word = "a whole number" if self.integer else "a number"
            raise loc.error(f"must be {word}{self._range()}, got {raw!r}")
        if (self.minimum is not None and raw < self.minimum) or (
            self.maximum is not None and raw > self.maximum
        ):
            raise loc.error(f"must be a number{self._range()}, got {raw!r}")
        return int(raw) if self.integer else float(raw)

    def _range(self) -> str:
        if self.minimum is not None and self.maximum is not None:
            return f" from {self.minimum:g} to {self.maximum:g}"
        if self.minimum is not None:
            return f" >= {self.minimum:g}"
        return f" <= {self.maximum:g}" if self.maximum is not None else ""

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "integer" if self.integer else "number"}
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        return out


@dataclass(frozen=True)
class Flag(Kind):
    def parse(self, raw: Any, loc: Loc, ctx: Ctx) -> bool:
        if not isinstance(raw, bool):
            raise loc.error(f"must be true or false, got {raw!r}")
        return raw

    def schema(self) -> dict[str, Any]:
        return {"type": "boolean"}


@dataclass(frozen=True)
class Choice(Kind):
    values: tuple[str, ...]

    def parse(self, raw: Any, loc: Loc, ctx: Ctx) -> str:
        if raw not in self.values:
            hint = difflib.get_close_matches(str(raw), self.values, n=1)
            mean = f"did you mean {hint[0]!r}? " if hint else ""
            raise loc.error(f"{raw!r} is not allowed: {mean}use one of {', '.join(self.values)}")
        return str(raw)

    def schema(self) -> dict[str, Any]:
        return {"enum": list(self.values)}


DURATION_PATTERN = r"^\s*(\d+[smhdw])+\s*$"


@dataclass(frozen=True)
class Duration(Kind):
    def parse(self, raw: Any, loc: Loc, ctx: Ctx) -> int:
        ms = parse_duration_ms(raw)
        if ms is None:
            raise loc.error(f"must be a duration like '10m', '1h' or '5d', got {raw!r}")
        return ms

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "pattern": DURATION_PATTERN}


@dataclass(frozen=True)
class Path(Kind):
    def parse(self, raw: Any, loc: Loc, ctx: Ctx) -> str:
        problem = path_error(raw) if isinstance(raw, str) else f"{raw!r} is not a field path"
        if problem:
            raise loc.error(problem)
        return str(raw)

    def schema(self) -> dict[str, Any]:
        return {
            "type": "string",
            "pattern": r"^(attrs\.[\w.-]+|entity\.(id|kind)|"
            r"id|type|stream|ts|ts_ms|source|region|department)$",
        }


@dataclass(frozen=True)
class KeyPath(Kind):
    """A ``group_by`` part: a path, or a path and a normaliser (``attrs.address|address``)."""

    def parse(self, raw: Any, loc: Loc, ctx: Ctx) -> str:
        path, bar, norm = raw.partition("|") if isinstance(raw, str) else (raw, "", "")
        Path().parse(path, loc, ctx)
        if bar and norm not in NORMALISERS:
            known = ", ".join(f"{n} ({doc})" for n, doc in NORMALISERS.items())
            raise loc.error(f"{raw!r} names an unknown normaliser {norm!r}: use {known}")
        return str(raw)

    def schema(self) -> dict[str, Any]:
        path = Path().schema()["pattern"][1:-1]
        return {"type": "string", "pattern": f"^{path}(\\|({'|'.join(NORMALISERS)}))?$"}


@dataclass(frozen=True)
class Many(Kind):
    """A list of one kind; a single value is taken as a list of one."""

    item: Kind
    min_items: int = 1
    single_ok: bool = True

    def parse(self, raw: Any, loc: Loc, ctx: Ctx) -> tuple[Any, ...]:
        if not isinstance(raw, list):
            if not self.single_ok or isinstance(raw, dict):
                raise loc.error(f"must be a list of {self.min_items} or more items")
            raw = [raw]
        if len(raw) < self.min_items:
            raise loc.error(f"must list at least {self.min_items} item(s)")
        base = getattr(raw, "pos", (loc.line, loc.col))
        out = []
        for item in raw:
            at = getattr(item, "pos", base)
            out.append(self.item.parse(item, Loc(loc.path, at[0], at[1]), ctx))
        return tuple(out)

    def schema(self) -> dict[str, Any]:
        arr = {"type": "array", "items": self.item.schema(), "minItems": self.min_items}
        return {"anyOf": [self.item.schema(), arr]} if self.single_ok else arr


@dataclass(frozen=True)
class Field:
    """One key of a block: its kind, whether it is required, its default, what it means
    and whether it belongs to the rule's logic (its logic hash)."""

    name: str
    kind: Kind
    required: bool = False
    default: Any = None
    doc: str = ""
    logic: bool = True


Build = Callable[[dict[str, Any], "Reader"], Any]


@dataclass(frozen=True)
class Reader:
    """Cross-field checks after a block parsed: errors at a key of the raw mapping."""

    node: Any
    path: str

    def fail(self, key: str | None, message: str) -> RuleError:
        if key is None:
            line, col = getattr(self.node, "pos", (1, 1))
            return RuleError(self.path, line, col, message)
        return loc_of(self.node, key, self.path).error(message)


@dataclass(frozen=True)
class Block(Kind):
    """A mapping with a fixed table of keys; ``build`` turns the values into an object."""

    name: str
    fields: tuple[Field, ...]
    build: Build | None = None
    doc: str = ""

    def keys(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def parse(self, raw: Any, loc: Loc, ctx: Ctx) -> Any:
        if not isinstance(raw, dict):
            raise loc.error(f"{self.name} must be a mapping of keys to values")
        reader = Reader(raw, loc.path)
        check_keys(raw, self.keys(), self.name, reader)
        values = parse_fields(raw, self.fields, reader, ctx, self.name)
        return self.build(values, reader) if self.build else values

    def schema(self) -> dict[str, Any]:
        return object_schema(self.fields, self.doc)


def check_keys(
    raw: Mapping[str, Any], allowed: tuple[str, ...], where: str, reader: Reader
) -> None:
    for key in raw:
        if key not in allowed:
            hint = difflib.get_close_matches(str(key), allowed, n=1)
            mean = f"did you mean {hint[0]!r}? " if hint else ""
            raise reader.fail(
                str(key), f"unknown key {key!r} in {where}: {mean}(allowed: {', '.join(allowed)})"
            )


def parse_fields(
    raw: Mapping[str, Any], fields: tuple[Field, ...], reader: Reader, ctx: Ctx, where: str
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for f in fields:
        value = raw.get(f.name)
        if value is None:
            if f.required:
                raise reader.fail(None, f"{where} needs '{f.name}': {f.doc}".rstrip(": "))
            default = f.default
            if isinstance(default, str):  # defaults are written as in YAML
                default = f.kind.parse(default, Loc(reader.path, 1, 1), ctx)
            values[f.name] = default
            continue
        loc = loc_of(raw, f.name, reader.path)
        try:
            values[f.name] = f.kind.parse(value, loc, ctx)
        except RuleError as exc:
            if exc.message.startswith(("must", f"{value!r}")):
                raise RuleError(exc.path, exc.line, exc.col, f"'{f.name}' {exc.message}") from None
            raise
    return values


def field_schema(f: Field) -> dict[str, Any]:
    """The JSON Schema of one field's value, with its description and default."""
    sub = dict(f.kind.schema())
    if f.doc:
        sub["description"] = f.doc
    if f.default is not None and isinstance(f.default, str | int | float | bool):
        sub["default"] = f.default
    return sub


def object_schema(
    fields: tuple[Field, ...], doc: str = "", refs: dict[str, str] | None = None
) -> dict[str, Any]:
    """An object with exactly these keys; ``refs`` maps a key to a ``$ref`` to use instead."""
    refs = refs or {}
    props = {f.name: {"$ref": refs[f.name]} if f.name in refs else field_schema(f) for f in fields}
    out: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
    required = [f.name for f in fields if f.required]
    if required:
        out["required"] = required
    if doc:
        out["description"] = doc
    return out
