"""Dotted field paths into an event envelope: the one place that knows how to read them.

A path is ``attrs.<name>[.<name>...]`` (an attribute, nested mappings by dots),
``entity.id`` / ``entity.kind``, or one of :data:`TOP_FIELDS`. ``Event.get`` and every
rule (``match`` keys, ``where`` names, title templates) read events through
:func:`getter`, so a path means the same thing everywhere.

Examples:
    >>> from envelope.build import EventMaker
    >>> ev = EventMaker()(ts_ms=1772414100000, item="food", nested={"a": {"b": 3}})
    >>> getter("attrs.item")(ev), getter("attrs.nested.a.b")(ev), getter("entity.kind")(ev)
    ('food', 3, 'citizen')
    >>> getter("attrs.nested.a.b.c")(ev), getter("entity.name")(ev), getter("color")(ev)
    (None, None, None)
    >>> path_error("attrs.item"), path_error("region")
    (None, None)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from operator import attrgetter
from typing import Any

Getter = Callable[[Any], Any]

# The envelope's top-level fields a path can name by themselves (besides entity.* and attrs.*).
TOP_FIELDS = ("id", "type", "stream", "ts", "ts_ms", "source", "region", "department")
_TOP = frozenset(TOP_FIELDS)
_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$")
_ENTITY = {"id": "entity_id", "kind": "entity_kind"}


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
    if head == "entity" and rest in _ENTITY:
        return None
    if head in _TOP and not rest:
        return None
    fields = ", ".join(("entity.id", "entity.kind", *TOP_FIELDS))
    return f"unknown field {path!r}: use attrs.{path} for an attribute, or one of {fields}"


def _absent(event: Any) -> None:
    return None


@lru_cache(maxsize=4096)
def getter(path: str) -> Getter:
    """A fast accessor for ``path``: the value, or None when it is absent (or ``path`` is
    not a field path, see :func:`path_error`)."""
    head, _, rest = path.partition(".")
    if head == "attrs":
        parts = rest.split(".")
        if len(parts) == 1:
            name = parts[0]
            return lambda ev: ev.attrs.get(name)
        return lambda ev: _dig(ev.attrs, parts)
    if head == "entity":
        return attrgetter(_ENTITY[rest]) if rest in _ENTITY else _absent
    if head in _TOP and not rest:
        return attrgetter(head)
    return _absent


def _dig(value: Any, parts: list[str]) -> Any:
    for part in parts:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value
