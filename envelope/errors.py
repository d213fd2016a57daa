"""The root of every error a user causes with bad input or setup: a rule file, a setting, a
calendar or policy file, an event or labels file, an unreachable broker.

A command line catches :class:`UserError` and prints it as a message (no traceback); each
error says where the problem is and how to fix it:

>>> str(UserError("dispose_days must be a whole number >= 0", "p.yaml", 3))
'p.yaml:3: dispose_days must be a whole number >= 0'
>>> str(UserError("rules folder not found"))
'rules folder not found'

Subclasses keep their own base classes too (``ValueError``, ``RuntimeError``), so older
``except`` clauses still catch them.
"""

from __future__ import annotations


class UserError(Exception):
    """``file:line: message``; without a line ``file: message``, without a file ``message``.

    ``col`` (a column, where a subclass knows one) makes it ``file:line:col: message``.
    """

    col: int | None = None

    def __init__(self, message: str, file: str | None = None, line: int | None = None) -> None:
        self.file, self.line, self.message = file, line, message
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.file is None:
            return self.message
        where = f"{self.file}"
        if self.line is not None:
            where += f":{self.line}"
        if self.col is not None:
            where += f":{self.col}"
        return f"{where}: {self.message}"
