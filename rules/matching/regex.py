r"""Rule regular expressions (the ``re`` modifier, ``where ... matches '...'``), run on RE2.

Why RE2 (the ``google-re2`` package) and not Python's ``re``: RE2 matches in time linear in
the value by construction, it never backtracks, so no pattern a rule author writes
(``(a+)+``, ``(\w+\s?)*``) can hold a partition on one adversarial value. What it cannot
do: backreferences (``(a)\1``, ``(?P=name)``), lookaround (``(?=x)``, ``(?<!x)``),
possessive and atomic groups (``a++``, ``(?>a)``), verbose mode ``(?x)`` and ``(?#...)``
comments, repetition counts above 1000. Those are refused when the rule file loads, with
a sentence saying how to write the pattern instead (:class:`RegexError`).

Python's spelling is kept where RE2 means something else by the same text, so a pattern
matches what it matched under ``re``: ``\w``, ``\d``, ``\s`` (and ``\W``, ``\D``, ``\S``)
keep their Unicode meaning (``\w`` takes 中文; RE2's own are ASCII), ``\Z`` is the end of
the text, ``\uXXXX`` a code point, ``a{,3}`` up to three. Named groups ``(?P<n>...)`` and
the flags ``(?i)``, ``(?s)``, ``(?m)`` work as they are. Left as RE2 has them: ``\b`` is
a boundary between ASCII word characters, and ``$`` without ``(?m)`` is the very end of
the text (Python's also matches before a final newline).

Examples:
    >>> compile_regex(r"^stf-[0-9]+$").search("stf-42"), compile_regex(r"^\w+$").search("中文")
    (True, True)
    >>> compile_regex(r"^(a+)+$").search("a" * 50_000 + "!")
    False
    >>> compile_regex(r"(a)\1")
    Traceback (most recent call last):
    ...
    rules.matching.regex.RegexError: regular expressions run on RE2, which has no backreferences: match the repeated part again, like (a)a, or compare the fields in 'where'
"""  # noqa: E501

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import re2

_RE2 = "regular expressions run on RE2"

# Python's Unicode shorthand classes, in RE2's spelling: as a class, and as class members.
_OUTSIDE = {
    "w": r"[\p{L}\p{N}_]",
    "W": r"[^\p{L}\p{N}_]",
    "d": r"\p{Nd}",
    "D": r"\P{Nd}",
    "s": r"[\t-\r\x1c-\x1f\x85\p{Z}]",
    "S": r"[^\t-\r\x1c-\x1f\x85\p{Z}]",
    "Z": r"\z",
}
_INSIDE = {"w": r"\p{L}\p{N}_", "d": r"\p{Nd}", "D": r"\P{Nd}", "s": r"\t-\r\x1c-\x1f\x85\p{Z}"}
_CODEPOINT = re.compile(r"u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})")
_UPTO = re.compile(r"\{,(\d+)\}")

# What RE2 says (patterns over its message) -> how to write the pattern instead.
_ADVICE = (
    (
        (r"invalid escape sequence: \\[1-9]", r"invalid perl operator: \(\?P$"),
        "which has no backreferences: match the repeated part again, like (a)a, "
        "or compare the fields in 'where'",
    ),
    (
        (r"\(\?<?[=!]",),
        "which has no lookaround: match the surrounding text itself, or split the test "
        "into two conditions (one with 'not')",
    ),
    (
        (r"bad repetition operator: [*+?}]\+", r"\(\?>"),
        "which never backtracks: drop the possessive + or the atomic (?>...), "
        "a+ already behaves like a++",
    ),
    (("invalid repetition size",), "which counts repetitions up to 1000: use + or a smaller {n,m}"),
    ((r"\(\?x",), "which has no verbose mode: drop (?x) and write the pattern without spaces"),
    ((r"\(\?#",), "which has no (?#...) comments: drop the comment from the pattern"),
    (
        (r"\(\?[auL]",),
        "which has no (?a), (?u) or (?L) flags: drop them, and write [0-9] or [A-Za-z] "
        "for ASCII-only classes",
    ),
)


class RegexError(ValueError):
    """A pattern RE2 cannot run; the message says how to write it instead."""


@dataclass(frozen=True, slots=True)
class Regex:
    """A compiled rule pattern; :meth:`search` says whether it occurs in a text."""

    pattern: str
    _compiled: Any = field(compare=False, repr=False)

    def search(self, text: str) -> bool:
        """Whether the pattern occurs anywhere in ``text`` (like ``re.search``)."""
        return self._compiled.search(text.encode("utf-8", "surrogatepass")) is not None


def compile_regex(pattern: str) -> Regex:
    """Compile ``pattern`` with RE2 (see the module docstring for why, and what it cannot
    do). The text is translated from Python's spelling first, and the value is handed to
    RE2 as UTF-8 bytes (one encode, no offset bookkeeping: only found/not found is asked).
    Raises :class:`RegexError` with a prescriptive sentence."""
    options = re2.Options()
    options.log_errors = False  # the reason goes into the RegexError, not to stderr
    options.never_capture = True  # groups only group: no spans are read
    try:
        compiled = re2.compile(_translate(pattern), options)
    except re2.error as exc:
        raise RegexError(_advice(exc.args[0] if exc.args else str(exc))) from None
    return Regex(pattern, compiled)


def _advice(reason: Any) -> str:
    if isinstance(reason, bytes):
        reason = reason.decode("utf-8", "replace")
    for needles, advice in _ADVICE:
        if any(re.search(n, reason) for n in needles):
            return f"{_RE2}, {advice}"
    return str(reason)


def _translate(pattern: str) -> str:
    r"""Python's spelling -> RE2's, for the escapes that differ (see the module docstring).

    >>> print(_translate(r"[\w.-]+\s\d{,2}\u00e9\Z"))
    [\p{L}\p{N}_.-]+[\t-\r\x1c-\x1f\x85\p{Z}]\p{Nd}{0,2}\x{00e9}\z
    """
    out: list[str] = []
    i, in_class = 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            text, i = _escape(pattern, i + 1, in_class)
        elif in_class and pattern.startswith("[:", i) and (end := pattern.find(":]", i)) > 0:
            text, i = pattern[i : end + 2], end + 2  # a POSIX class like [:alpha:]
        elif c == "[" and not in_class:
            text, i, in_class = _class_start(pattern, i + 1)
        elif c == "{" and not in_class and (m := _UPTO.match(pattern, i)):
            text, i = f"{{0,{m.group(1)}}}", m.end()
        else:
            in_class = in_class and c != "]"
            text, i = c, i + 1
        out.append(text)
    return "".join(out)


def _escape(pattern: str, at: int, in_class: bool) -> tuple[str, int]:
    """RE2's spelling of the escape whose letter is at ``pattern[at]``, and where the
    pattern goes on after it."""
    letter = pattern[at]
    if m := _CODEPOINT.match(pattern, at):
        return "\\x{" + (m.group(1) or m.group(2)) + "}", m.end()
    if not in_class:
        return _OUTSIDE.get(letter, "\\" + letter), at + 1
    if letter in ("W", "S"):
        raise RegexError(
            f"{_RE2}, which cannot take \\{letter} inside [...]: name the characters "
            "you want instead, like [^\\p{L}\\p{N}_] for none of \\w or \\p{L} for letters"
        )
    return _INSIDE.get(letter, "\\" + letter), at + 1


def _class_start(pattern: str, i: int) -> tuple[str, int, bool]:
    """A class's ``[`` with its leading ``^`` and a leading ``]`` (a member, not the end)."""
    start = i
    if pattern.startswith("^", i):
        i += 1
    if pattern.startswith("]", i):
        i += 1
    return "[" + pattern[start:i], i, True
