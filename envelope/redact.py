"""Personal identifiers in text anyone may read: the patterns, and reasons kept short.

A PRC resident ID number (17 digits and a check character) and a mainland mobile number are
recognised wherever they stand in text. Reasons and log lines replace them by a mark of their
kind; clue views pseudonymise the same patterns (``clues.privacy``). A reason built from
input a producer controls is also cut short, so a 200 KB value never becomes a 200 KB log
line or dead-letter reason.

>>> mask_personal("call 13800138000 about 110101199003077777")
'call <phone> about <ID number>'
>>> bounded_reason("bad value " + "x" * 500, 40)
'bad value xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx… (510 chars)'
"""

from __future__ import annotations

import re

ID_CARD = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
REASON_CHARS = 300  # a dead-letter reason or a log line's: room for a message and an excerpt


def mask_personal(text: str) -> str:
    """``text`` with every ID and mobile number replaced by ``<ID number>``, ``<phone>``."""
    return PHONE.sub("<phone>", ID_CARD.sub("<ID number>", text))


def cut(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, its full length noted.

    >>> cut("unknown status 'xxxxxxxx'", 16)
    "unknown status '… (25 chars)"
    """
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} chars)"


def bounded_reason(text: str, limit: int = REASON_CHARS) -> str:
    """``text`` masked, and cut to ``limit`` characters with its full length noted."""
    return cut(mask_personal(text), limit)
