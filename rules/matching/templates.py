"""Output templates: ``{name}`` placeholders checked when the rule loads, filled per warning.

A placeholder is a warning value (``key``, ``value``, ``rule``, ``stage``, ``severity``,
``window``, ``suppressed``, ``top``; ``previous`` for ``change``, ``reference`` and
``ratio`` for ``spike``), the last part of a ``group_by`` path (``{item}`` for
``attrs.item``) or an event field (``{attrs.item}``, ``{entity.id}``, ``{region}``) taken
from the event that triggered the warning (the anchor for deadlines). A format spec
may follow a colon: ``{value:.0f}``. ``{{`` and ``}}`` write braces.

Examples:
    >>> t = compile_template("{item}: {value} filings from {attrs.channel}", {"item"})
    >>> t.paths
    frozenset({'attrs.channel'})
    >>> t.render({"item": "food", "value": 4.0, "attrs.channel": "online"})
    'food: 4 filings from online'
    >>> compile_template("{itme} x", {"item"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: unknown placeholder {itme}: did you mean {item}? Use a warning value ...
"""

from __future__ import annotations

import difflib
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from envelope.paths import path_error

WARNING_VALUES = (
    "key",
    "value",
    "rule",
    "stage",
    "severity",
    "window",
    "suppressed",
    "top",
    "previous",
    "reference",
    "ratio",
)
_FMT = string.Formatter()


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed template: literal text and ``(name, format spec)`` parts."""

    text: str
    parts: tuple[tuple[str, str | None, str], ...]  # (literal, name or None, spec)
    paths: frozenset[str]

    def render(self, values: Mapping[str, Any]) -> str:
        out = []
        for literal, name, spec in self.parts:
            out.append(literal)
            if name is not None:
                out.append(_show(values.get(name), spec))
        return "".join(out)


def _show(value: Any, spec: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and not spec and value.is_integer():
        return str(int(value))
    if spec:
        try:
            return format(value, spec)
        except (ValueError, TypeError):
            return str(value)
    return str(value)


def compile_template(text: str, names: Iterable[str]) -> Template:
    """Parse ``text``; every placeholder must be known. Raises ValueError with the fix."""
    allowed = set(WARNING_VALUES) | set(names)
    try:
        pieces = list(_FMT.parse(text))
    except ValueError as exc:
        raise ValueError(f"bad template: {exc}; write {{{{ and }}}} for literal braces") from None
    parts: list[tuple[str, str | None, str]] = []
    paths: set[str] = set()
    for literal, name, spec, conversion in pieces:
        if name is None:
            parts.append((literal, None, ""))
            continue
        if conversion or not name or any(c in name for c in "[]"):
            raise ValueError(f"placeholder {{{name}}} must be a plain name like {{value}}")
        if name not in allowed:
            if path_error(name) is not None:
                raise ValueError(_unknown(name, allowed, names))
            paths.add(name)
        if spec and not _valid_spec(spec):
            raise ValueError(
                f"{{{name}:{spec}}} has a format Python cannot apply to a number or to text:"
                f" write one like {{{name}:.2f}}, {{{name}:,}} or {{{name}:>8}}"
            )
        parts.append((literal, name, spec or ""))
    return Template(text, tuple(parts), frozenset(paths))


def _valid_spec(spec: str) -> bool:
    """A format spec that applies to a number or to text (``.2f``, ``,``, ``>8``).

    >>> _valid_spec(".2f"), _valid_spec(">8"), _valid_spec(".2q")
    (True, True, False)
    """
    for sample in (1.5, 7, "x"):
        try:
            format(sample, spec)
            return True
        except (ValueError, TypeError):
            continue
    return False


def _unknown(name: str, allowed: set[str], names: Iterable[str]) -> str:
    hint = difflib.get_close_matches(name, sorted(allowed), n=1)
    mean = f"did you mean {{{hint[0]}}}? " if hint else ""
    groups = ", ".join(sorted(names)) or "none"
    return (
        f"unknown placeholder {{{name}}}: {mean}Use a warning value ({', '.join(WARNING_VALUES)}),"
        f" a group_by name ({groups}) or an event field like {{attrs.item}}"
    )
