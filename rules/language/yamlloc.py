"""A YAML loader that remembers where every value came from and rejects duplicate keys.

Mappings load as :class:`LocDict` (a dict with ``.pos`` and ``.key_pos``), sequences as
:class:`LocList`, so the parser can point at ``file:line:col`` for any field.

Kept hand-written, on top of PyYAML's own composer and node marks (PyYAML is needed anyway):
no kept loader gives a position for every *scalar* and refuses duplicate keys and YAML 1.1's
``yes``/``on`` booleans at once (ruamel.yaml's round-trip loader keeps positions of keys and
items but treats values as plain Python objects, and would be a second YAML library).

>>> doc = load_located("a: 1\\nb:\\n  - x\\n", "r.yaml")
>>> doc["b"], doc.key_pos["b"], doc.pos
(['x'], (2, 1), (1, 1))
>>> load_located("on: yes\\n", "r.yaml")
{'on': 'yes'}
>>> load_located("a: 1\\na: 2\\n", "r.yaml")
Traceback (most recent call last):
...
rules.language.errors.RuleError: r.yaml:2:1: duplicate key 'a' (first at line 1): ...
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from rules.language.errors import RuleError

Pos = tuple[int, int]


class LocDict(dict):
    """A mapping that remembers where it, each key and each scalar value start.

    ``val_pos[key]`` is ``(line, col, style, source)`` of a scalar value: ``style`` is
    ``""`` for a plain scalar, the quote character for a quoted one and ``|``/``>`` for a
    block; ``source`` is its file text when it spans lines (else None).
    """

    pos: Pos = (1, 1)
    key_pos: dict[str, Pos]
    val_pos: dict[str, tuple[int, int, str, str | None]]


class LocList(list):
    pos: Pos = (1, 1)


def _mark(node: yaml.Node) -> Pos:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans: only true/false, so ``on:``, ``yes``, ``no``
    and ``off`` stay text (``resolve: {on: cleared}``)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
# YAML 1.2 floats in exponent form (1e6, -2.5E-3), which YAML 1.1 reads as text
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)

_TAG_WORDS = {
    "tag:yaml.org,2002:timestamp": "a date",
    "tag:yaml.org,2002:int": "a whole number",
    "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:bool": "true or false",
}


def _construct(loader: _Loader, node: yaml.Node) -> Any:
    """``construct_object``, with a value PyYAML cannot build (``2026-02-30``, ``!!int x``)
    turned into a RuleError at the value's position."""
    try:
        return loader.construct_object(node, deep=True)
    except (RuleError, yaml.YAMLError, RecursionError):
        raise
    except Exception as exc:  # PyYAML's constructors raise ValueError, KeyError, ...
        line, col = _mark(node)
        raw = node.value if isinstance(node, yaml.ScalarNode) else "this value"
        word = _TAG_WORDS.get(node.tag, node.tag.rsplit(":", 1)[-1])
        raise RuleError(
            loader.name,
            line,
            col,
            f"{raw!r} is not {word} ({str(exc) or type(exc).__name__}): correct it, "
            "or quote it to keep it as text",
        ) from None


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LocDict:
    out = LocDict()
    out.pos = _mark(node)
    out.key_pos = {}
    out.val_pos = {}
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = _construct(loader, key_node)
        if not isinstance(key, str):
            key = str(key)
        if key in out:
            first = out.key_pos[key][0]
            line, col = _mark(key_node)
            raise RuleError(
                loader.name,
                line,
                col,
                f"duplicate key {key!r} (first at line {first}): each key may appear once",
            )
        out[key] = _construct(loader, value_node)
        out.key_pos[key] = _mark(key_node)
        if isinstance(value_node, yaml.ScalarNode):
            out.val_pos[key] = (*_mark(value_node), value_node.style or "", _source(value_node))
    return out


def _source(node: yaml.ScalarNode) -> str | None:
    """The file text of a scalar that spans lines (to place errors inside it), else None."""
    buffer = getattr(node.start_mark, "buffer", None)
    if not isinstance(buffer, str):
        return None
    text = buffer[node.start_mark.pointer : node.end_mark.pointer]
    return text if "\n" in text else None


def position_in(source: str, start: Pos, value: str, at: int) -> Pos | None:
    r"""Line and column in the file of ``value[at]``, for a scalar written as ``source``
    from ``start`` (quoted, plain, literal ``|`` or folded ``>``): each character of the
    value is found in the source in order, a folded line break standing for a space.
    None when they cannot be aligned (escape sequences).

    >>> position_in(">\n  a and\n  b > 5\n", (3, 8), "a and b > 5", 8)
    (5, 5)
    >>> position_in("|\n  a and\n  b > 5\n", (3, 8), "a and\nb > 5\n", 8)
    (5, 5)
    """
    line, col = start
    i = 0
    for j, ch in enumerate(value[: at + 1]):
        while i < len(source) and source[i] != ch and not (ch == " " and source[i] == "\n"):
            line, col = (line + 1, 1) if source[i] == "\n" else (line, col + 1)
            i += 1
        if i >= len(source):
            return None
        if j == at:
            return line, col
        line, col = (line + 1, 1) if source[i] == "\n" else (line, col + 1)
        i += 1
    return None


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> LocList:
    out = LocList(_construct(loader, child) for child in node.value)
    out.pos = _mark(node)
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def load_located(text: str, path: str) -> Any:
    """Parse one YAML document; every YAML problem becomes :class:`RuleError` with the
    position (bad characters, syntax, nesting too deep)."""
    loader = None
    try:
        loader = _Loader(text)
        loader.name = path
        return loader.get_single_data()
    except yaml.reader.ReaderError as exc:
        line, col = _line_col(text, exc.position)
        raise RuleError(
            path, line, col, f"character {exc.character!r} is not allowed in YAML: remove it"
        ) from None
    except yaml.MarkedYAMLError as exc:
        problem = exc.problem or exc.context or "invalid YAML"
        hint, at_context = _hint(problem)
        mark = (exc.context_mark if at_context else None) or exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = f"YAML syntax error: {problem}" + (f": {hint}" if hint else "")
        raise RuleError(path, line, col, message) from None
    except yaml.YAMLError as exc:
        raise RuleError(path, 1, 1, f"YAML error: {exc}") from None
    except RecursionError:
        raise RuleError(path, 1, 1, "the YAML nests too deeply: flatten it") from None
    finally:
        if loader is not None:
            loader.dispose()


# What PyYAML says -> how to fix it, and whether the error is where its context started
# (the key missing its ':', the '[' never closed) rather than where the parser gave up.
_HINTS: tuple[tuple[str, str, bool], ...] = (
    ("could not find expected ':'", "write 'key: value', with ': ' after the key", True),
    ("expected ',' or ']'", "close the list with ']' (or quote text holding a comma)", True),
    ("expected ',' or '}'", "close the mapping with '}'", True),
    ("found unexpected end of stream", "close the quoted text with its quote", True),
    (
        "mapping values are not allowed here",
        "a second ': ' on the line: quote the value, or start a nested block on a new line",
        False,
    ),
    ("cannot start any token", "indent with spaces, not tabs", False),
    ("found undefined alias", "define '&name' before using '*name', or quote the text", False),
    ("expected <block end>", "indent this line like the keys beside it", False),
    ("did not find expected key", "indent this line like the keys beside it", False),
)


def _hint(problem: str) -> tuple[str, bool]:
    """One sentence on how to fix a PyYAML problem, and whether to point at its context.

    >>> _hint("could not find expected ':'")
    ("write 'key: value', with ': ' after the key", True)
    """
    for needle, hint, at_context in _HINTS:
        if needle in problem:
            return hint, at_context
    return "", False


def _line_col(text: str, position: int) -> Pos:
    before = text[:position]
    return before.count("\n") + 1, position - (before.rfind("\n") + 1) + 1
