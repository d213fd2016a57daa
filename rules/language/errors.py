"""Typed errors of the rule language. Each names the file, the line and how to fix it.

>>> str(RuleError("rules/x.yaml", 3, 5, "window must be a duration like '10m'"))
"rules/x.yaml:3:5: window must be a duration like '10m'"
"""

from __future__ import annotations

from envelope.errors import UserError


class RuleError(UserError, ValueError):
    """A rule file that cannot be loaded: ``path:line:col: message``."""

    line: int
    col: int

    def __init__(self, path: str, line: int, col: int, message: str) -> None:
        self.path, self.col = path, col
        super().__init__(message, path, line)


class RuleSetError(UserError, ValueError):
    """Several rule files failed; ``errors`` holds each one. The old rule set keeps running.

    Its message is every error's ``path:line:col: message``, one a line.
    """

    def __init__(self, errors: list[RuleError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))
