"""The ``where`` expression language: tokens and a recursive-descent parser (never ``eval``).

Grammar (lowest precedence first)::

    expr    := or
    or      := and (('or' | '||') and)*
    and     := not (('and' | '&&') not)*
    not     := ('not' | '!') not | compare
    compare := sum [('==' | '!=' | '<' | '<=' | '>' | '>=' | 'in' | 'not in'
                     | 'contains' | 'startswith' | 'endswith' | 'matches') sum]
    sum     := product (('+' | '-') product)*
    product := unary (('*' | '/' | '%') unary)*
    unary   := '-' unary | primary
    primary := NUMBER | STRING | 'true' | 'false' | 'null' | '(' expr ')'
             | '[' [expr (',' expr)*] ']' | '$list:' NAME | NAME ['(' [expr (',' expr)*] ')']

``NAME`` is a dotted field path (``attrs.rows``, ``entity.id``, ``region``), a macro, or a
function when followed by ``(``. Typing and compilation live in :mod:`rules.matching.expr_compile`.

Kept hand-written: the language is the rule files' own (``$list:`` references, macros,
``matches`` on RE2, ``contains``), every error must name its column inside the rule file, and
nothing may ever reach ``eval``; a general expression library would bring a language of its own
to fence in rather than this small grammar to read.

Examples:
    >>> tree = parse("attrs.rows > 100 and not region in ['330106']")
    >>> tree.op, tree.b.x.op, tree.b.x.b.items
    ('and', 'in', (Lit(value='330106', at=36),))
    >>> tree.a
    Bin(op='>', a=Name(name='attrs.rows', at=0), b=Lit(value=100, at=13), at=11)
    >>> parse("attrs.rows >")
    Traceback (most recent call last):
    ...
    rules.matching.expr.ExprError: at 12: expected a value, found the end of the expression
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


class ExprError(ValueError):
    """A bad expression; ``at`` is the character offset of the problem in its text."""

    def __init__(self, at: int, message: str) -> None:
        self.at, self.message = at, message
        super().__init__(f"at {at}: {message}")


@dataclass(frozen=True, slots=True)
class Lit:
    value: Any
    at: int


@dataclass(frozen=True, slots=True)
class Name:
    name: str
    at: int


@dataclass(frozen=True, slots=True)
class ListRef:
    name: str
    at: int


@dataclass(frozen=True, slots=True)
class ListLit:
    items: tuple[Any, ...]
    at: int


@dataclass(frozen=True, slots=True)
class Not:
    x: Any
    at: int


@dataclass(frozen=True, slots=True)
class Neg:
    x: Any
    at: int


@dataclass(frozen=True, slots=True)
class Bin:
    op: str
    a: Any
    b: Any
    at: int


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    args: tuple[Any, ...]
    at: int


_TOKEN = re.compile(
    r"""(?P<ws>\s+)
    |(?P<num>\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
    |(?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
    |(?P<list>\$list:[A-Za-z0-9_.-]+)
    |(?P<name>[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*)
    |(?P<op>==|!=|<=|>=|&&|\|\||[<>!+\-*/%(),\[\]])""",
    re.VERBOSE,
)
KEYWORDS = {"and", "or", "not", "in", "true", "false", "null"}
WORD_OPS = {"contains", "startswith", "endswith", "matches"}
COMPARE = {"==", "!=", "<", "<=", ">", ">=", "in", "not in", *WORD_OPS}
_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", "'": "'", '"': '"'}


def _unquote(raw: str, at: int) -> str:
    out, i, body = [], 0, raw[1:-1]
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            nxt = body[i + 1] if i + 1 < len(body) else ""
            if nxt not in _ESCAPES:
                raise ExprError(at + i + 1, f"unknown escape '\\{nxt}' in a string")
            out.append(_ESCAPES[nxt])
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def tokenize(text: str) -> list[tuple[str, Any, int]]:
    """``(kind, value, offset)`` tokens, ending with ``("end", None, len(text))``."""
    tokens: list[tuple[str, Any, int]] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ExprError(pos, f"unexpected character {text[pos]!r}")
        kind, raw = m.lastgroup or "", m.group()
        if kind == "num":
            tokens.append(("num", float(raw) if any(c in raw for c in ".eE") else int(raw), pos))
        elif kind == "str":
            tokens.append(("str", _unquote(raw, pos), pos))
        elif kind == "list":
            tokens.append(("list", raw[len("$list:") :], pos))
        elif kind == "name":
            word = raw.lower()
            is_word = word in KEYWORDS or word in WORD_OPS
            tokens.append(("op", word, pos) if is_word else ("name", raw, pos))
        elif kind == "op":
            tokens.append(("op", {"&&": "and", "||": "or", "!": "not"}.get(raw, raw), pos))
        pos = m.end()
    tokens.append(("end", None, len(text)))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.i = 0

    def peek(self) -> tuple[str, Any, int]:
        return self.tokens[self.i]

    def take(self) -> tuple[str, Any, int]:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def accept(self, *ops: str) -> tuple[str, Any, int] | None:
        kind, value, _ = self.peek()
        return self.take() if kind == "op" and value in ops else None

    def expect(self, op: str) -> None:
        if not self.accept(op):
            raise ExprError(self.peek()[2], f"expected '{op}', found {_show(self.peek())}")

    def expr(self) -> Any:
        node = self.and_()
        while tok := self.accept("or"):
            node = Bin("or", node, self.and_(), tok[2])
        return node

    def and_(self) -> Any:
        node = self.not_()
        while tok := self.accept("and"):
            node = Bin("and", node, self.not_(), tok[2])
        return node

    def not_(self) -> Any:
        if tok := self.accept("not"):
            return Not(self.not_(), tok[2])
        return self.compare()

    def compare(self) -> Any:
        left = self.sum()
        kind, value, at = self.peek()
        if kind != "op":
            return left
        if value == "not" and self.tokens[self.i + 1][:2] == ("op", "in"):
            self.i += 2
            return Bin("not in", left, self.sum(), at)
        if value in COMPARE:
            self.take()
            node = Bin(value, left, self.sum(), at)
            nxt = self.peek()
            if nxt[0] == "op" and nxt[1] in COMPARE:
                raise ExprError(nxt[2], "comparisons do not chain: join them with 'and'")
            return node
        return left

    def sum(self) -> Any:
        node = self.product()
        while tok := self.accept("+", "-"):
            node = Bin(tok[1], node, self.product(), tok[2])
        return node

    def product(self) -> Any:
        node = self.unary()
        while tok := self.accept("*", "/", "%"):
            node = Bin(tok[1], node, self.unary(), tok[2])
        return node

    def unary(self) -> Any:
        if tok := self.accept("-"):
            return Neg(self.unary(), tok[2])
        return self.primary()

    def primary(self) -> Any:
        kind, value, at = self.take()
        if kind in ("num", "str"):
            return Lit(value, at)
        if kind == "list":
            return ListRef(value, at)
        if kind == "name":
            if self.accept("("):
                return Call(value, self.items(")"), at)
            return Name(value, at)
        if kind == "op" and value in ("true", "false", "null"):
            return Lit({"true": True, "false": False, "null": None}[value], at)
        if kind == "op" and value == "(":
            node = self.expr()
            self.expect(")")
            return node
        if kind == "op" and value == "[":
            return ListLit(self.items("]"), at)
        raise ExprError(at, f"expected a value, found {_show((kind, value, at))}")

    def items(self, close: str) -> tuple[Any, ...]:
        out: list[Any] = []
        if self.accept(close):
            return ()
        while True:
            out.append(self.expr())
            if self.accept(close):
                return tuple(out)
            self.expect(",")


def _show(tok: tuple[str, Any, int]) -> str:
    kind, value, _ = tok
    if kind == "end":
        return "the end of the expression"
    return f"{value!r}" if kind != "op" else f"'{value}'"


MAX_LENGTH = 4000


def parse(text: str) -> Any:
    """Parse an expression into a tree of :class:`Bin`, :class:`Not`, :class:`Name`, ..."""
    if not isinstance(text, str) or not text.strip():
        raise ExprError(0, "the expression is empty: write a condition like attrs.rows > 100")
    if len(text) > MAX_LENGTH:
        raise ExprError(MAX_LENGTH, f"the expression is longer than {MAX_LENGTH} characters")
    parser = _Parser(text)
    try:
        node = parser.expr()
    except RecursionError:
        raise ExprError(0, "the expression nests too deeply") from None
    kind, value, at = parser.peek()
    if kind != "end":
        raise ExprError(
            at, f"unexpected {_show((kind, value, at))}: join conditions with 'and'/'or'"
        )
    return node
