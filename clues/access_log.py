"""The API's access log without personal identifiers.

Uvicorn logs each request's path and query string (``GET /clues?assignee=13812345678``).
:class:`MaskedAccessLog`, a filter on the ``uvicorn.access`` logger, rewrites them first with
the store's pseudonym key: the value of every query parameter that may name a person (anything
but the filters below, which name statuses, rules, places and pages) becomes its pseudonym, the
same as the views show, so requests about one person can still be told apart; ID and mobile
numbers anywhere else in the path or query are pseudonymised too.

>>> from clues.privacy import Masker
>>> MaskedAccessLog(Masker(b"k")).path("/clues?assignee=13800138000&status=new&limit=5")
'/clues?assignee=pid-af8579fcbb48&status=new&limit=5'
>>> MaskedAccessLog(Masker(b"k")).path("/clues/clue-0123456789abcdef0123/audit")
'/clues/clue-0123456789abcdef0123/audit'
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl, quote, unquote, urlencode

from clues.model import is_clue_id
from clues.privacy import Masker
from envelope.redact import cut

ACCESS_LOGGER = "uvicorn.access"
PATH_CHARS = 500  # a logged path and query: a 10 KB query string is cut, its length noted
# Query parameters that never name a person: their values are logged (patterns masked).
PLAIN_PARAMS = frozenset(
    ("status", "colour", "rule", "department", "region", "mine", "sort", "limit", "cursor")
    + ("from", "to", "severity", "dimension", "kind")
)


class MaskedAccessLog(logging.Filter):
    """Pseudonymises the path and query of uvicorn's access log records."""

    def __init__(self, masker: Masker) -> None:
        super().__init__()
        self.masker = masker

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        # uvicorn: (client, method, path with query, http version, status)
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            path = cut(self.path(args[2]), PATH_CHARS)
            record.args = (args[0], args[1], path, args[3], args[4])
        return True

    def path(self, full: str) -> str:
        path, sep, query = full.partition("?")
        segments = [s if is_clue_id(s) else self._text(s) for s in path.split("/")]
        if not sep:
            return "/".join(segments)
        pairs = [
            (name, self._text(v) if name in PLAIN_PARAMS or not v else self.masker.pseudonym(v))
            for name, v in parse_qsl(query, keep_blank_values=True)
        ]
        return "/".join(segments) + "?" + urlencode(pairs, safe=",:*")

    def _text(self, text: str) -> str:
        plain = unquote(text)
        masked = self.masker.text(plain, ())
        return text if masked == plain else quote(masked, safe=",:*=&")


def install(masker: Masker) -> MaskedAccessLog:
    """Put a filter with ``masker`` on uvicorn's access logger, in place of an older one."""
    logger = logging.getLogger(ACCESS_LOGGER)
    for old in [f for f in logger.filters if isinstance(f, MaskedAccessLog)]:
        logger.removeFilter(old)
    new = MaskedAccessLog(masker)
    logger.addFilter(new)
    return new
