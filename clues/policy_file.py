"""The deadline policy file (``RISKLOOP_DEADLINE_POLICY_FILE``): terms per category and level.

A YAML mapping of category (the department a clue is dispatched to, ``*`` for any) to risk
level (``critical``, ``high``, ``medium``, ``low``, ``info``, ``*`` for any) to terms in
working days::

    "*":
      critical: {sign_days: 0, dispose_days: 5}
      "*":      {sign_days: 1, dispose_days: 15}
    market-supervision:
      "*": {sign_days: 1, dispose_days: 15, max_extensions: 1, max_extension_days: 15}

The file is the whole table (it replaces the shipped one). A clue takes the first entry of
(category, level), (``*``, level), (category, ``*``), (``*``, ``*``); a term an entry leaves
out has the default of ``clues.workdays.Terms``. The terms are snapshotted onto a clue when
it is dispatched, so editing the file (and restarting the API) never moves a deadline
already running. A bad file raises :class:`PolicyFileError` naming ``file:line`` and the fix;
the API refuses to start with it.

Examples:
    >>> p = parse_policy('"*": {"*": {dispose_days: 10}}\\nhousing: {high: {sign_days: 0}}', "p.yaml")
    >>> p.lookup("housing", "high").sign_days, p.lookup("housing", "low").dispose_days
    (0, 10)
    >>> parse_policy('"*": {"*": {dispose_days: -1}}', "p.yaml")
    Traceback (most recent call last):
    ...
    clues.policy_file.PolicyFileError: p.yaml:1: dispose_days must be a whole number >= 0, got -1
"""  # noqa: E501

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

from clues.model import SEVERITY_RANK
from clues.workdays import DeadlinePolicy, Terms
from envelope.errors import UserError
from rules.language.errors import RuleError
from rules.language.yamlloc import LocDict, load_located

ANY = "*"
LEVELS = (*SEVERITY_RANK, ANY)
TERM_NAMES = tuple(f.name for f in fields(Terms))
_AT_LEAST_ONE = ("escalate_after_days",)  # 0 would escalate on every tick


class PolicyFileError(UserError, ValueError):
    """A deadline policy file that cannot be used: ``path:line: message``."""

    def __init__(self, path: str, line: int, message: str) -> None:
        self.path = path
        super().__init__(message, path, line)


def parse_policy(text: str, path: str) -> DeadlinePolicy:
    """The policy in ``text`` (YAML); ``path`` is for messages."""
    try:
        root = load_located(text, path)
    except RuleError as exc:
        raise PolicyFileError(path, exc.line, exc.message) from None
    if not isinstance(root, LocDict) or not root:
        example = '\'"*": {"*": {sign_days: 1, dispose_days: 15}}\''
        raise PolicyFileError(
            path, 1, f"the policy must map category -> level -> terms, e.g. {example}"
        )
    table: dict[tuple[str, str], Terms] = {}
    for category, levels in root.items():
        line = root.key_pos[category][0]
        if not isinstance(levels, LocDict):
            raise PolicyFileError(path, line, f"{category!r} must map risk levels to terms")
        for level, terms in levels.items():
            table[(category, level)] = _terms(levels, level, terms, path)
    return DeadlinePolicy(table)


def _terms(levels: LocDict, level: str, terms: Any, path: str) -> Terms:
    line = levels.key_pos[level][0]
    if level not in LEVELS:
        raise PolicyFileError(path, line, f"unknown risk level {level!r}: use {', '.join(LEVELS)}")
    if not isinstance(terms, LocDict):
        raise PolicyFileError(path, line, f"{level}: give the terms as {{dispose_days: 15, ...}}")
    values: dict[str, int] = {}
    for name, value in terms.items():
        at = terms.key_pos[name][0]
        if name not in TERM_NAMES:
            raise PolicyFileError(path, at, f"unknown term {name!r}: use {', '.join(TERM_NAMES)}")
        values[name] = _whole(name, value, path, at)
    out = Terms(**values)
    if out.sign_days > out.dispose_days:
        raise PolicyFileError(
            path,
            line,
            f"sign_days ({out.sign_days}) is after dispose_days ({out.dispose_days}): a clue "
            "is signed for before it is disposed of",
        )
    return out


def _whole(name: str, value: Any, path: str, line: int) -> int:
    low = 1 if name in _AT_LEAST_ONE else 0
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise PolicyFileError(path, line, f"{name} must be a whole number >= {low}, got {value!r}")
    return value


def load_policy(path: str | Path) -> DeadlinePolicy:
    """The policy in the file at ``path``; PolicyFileError if it is missing or bad."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyFileError(str(path), 1, f"cannot read the deadline policy: {exc}") from None
    return parse_policy(text, str(path))
