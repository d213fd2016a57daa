"""A group key's text from its parts, and back: ``region|applicant`` is two parts.

A part that itself holds a bar (an address ``1|2 Lane``) or a backslash is escaped, so two
different keys never share a text and a warning's key splits back into the parts it was
made of. A part that is not text (an ``attrs`` value of another JSON type) is written one
way whatever its JSON spelling: ``1`` and ``1.0`` are one key, an object's members sorted.
Pure functions: live workers and backtests build the same keys.

>>> join(["330106", "1|2 Lane"]), split(join(["330106", "1|2 Lane"]))
('330106|1\\\\|2 Lane', ['330106', '1|2 Lane'])
>>> join(["a|b", "c"]) != join(["a", "b|c"]), split("a\\\\\\\\|b")
(True, ['a\\\\', 'b'])
>>> scalar_text(1.0), scalar_text(True), scalar_text({"b": 1, "a": [2]})
('1', 'true', '{"a":[2],"b":1}')
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

SEP = "|"


def part(value: str) -> str:
    """One part as it is written in a key: a bar or backslash in it escaped."""
    if "|" in value or "\\" in value:
        return value.replace("\\", "\\\\").replace("|", "\\|")
    return value


def join(parts: Iterable[str]) -> str:
    """The key of these parts (each unescaped text)."""
    return SEP.join(part(p) for p in parts)


def split(key: str) -> list[str]:
    """The parts a key was joined from (:func:`join`'s inverse)."""
    if "\\" not in key:
        return key.split(SEP)
    parts, cur, i = [], [], 0
    while i < len(key):
        c = key[i]
        if c == "\\" and i + 1 < len(key):
            cur.append(key[i + 1])
            i += 2
            continue
        if c == SEP:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    parts.append("".join(cur))
    return parts


def scalar_text(value: Any) -> str:
    """A key part from a value that is not text: JSON's spelling, with integral numbers
    written as integers."""
    if type(value) is float and value.is_integer():
        return str(int(value))
    if type(value) in (int, float):
        return str(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
