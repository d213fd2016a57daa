"""Key values as people type them: one identifier, however it was keyed in, is one rule key.

Every group key part that is text goes through :func:`key_text`: Unicode NFKC (full-width
digits and letters become ASCII), surrounding whitespace stripped, and the check letter of an
18-character resident ID number upper-cased (``...123x`` is ``...123X``). A part that is empty
after this is missing: the event has no key for the rule.

A ``group_by`` path may name a normaliser after a bar, like match modifiers
(``attrs.address|address``); :data:`NORMALISERS` is the table. ``address`` also drops the
whitespace between non-ASCII characters, collapses the rest to one space and strips the
folder's ``address_prefixes`` list (a province, a city) from the front, so an address with or
without them is one key. Pure functions: live workers and backtests build the same keys.

>>> key_text("３３０１０６１９９００１０１１２３x"), key_text("  E1 "), key_text(" ")
('33010619900101123X', 'E1', '')
>>> norm = KeyNorm("address", ("浙江省", "杭州市"))
>>> norm("浙江省杭州市 西湖区文三路８号"), norm("西湖区 文三路8号"), norm("No. 8  Wensan Road")
('西湖区文三路8号', '西湖区文三路8号', 'No. 8 Wensan Road')
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

ADDRESS_PREFIXES_LIST = "address_prefixes"  # the shared list the address normaliser strips
_SPACE = re.compile(r"\s+")
_SEPARATORS = " ,，、"  # what may follow a stripped prefix


def key_text(value: str) -> str:
    """The default normalisation of a text key part (see the module docstring)."""
    if not value.isascii():
        value = unicodedata.normalize("NFKC", value)
    value = value.strip()
    if len(value) == 18 and value[17] == "x" and value[:17].isascii() and value[:17].isdigit():
        value = value[:17] + "X"
    return value


def _spaces(value: str) -> str:
    """Whitespace between two ASCII characters becomes one space; next to any other
    character (a Chinese address) it goes."""
    parts = _SPACE.split(value)
    out = parts[0]
    for part in parts[1:]:
        if out and part and out[-1].isascii() and part[0].isascii():
            out += " "
        out += part
    return out


def address(value: str, prefixes: tuple[str, ...] = ()) -> str:
    """An address as one key: :func:`key_text`, whitespace tidied, leading ``prefixes``
    (tried longest first, again after each one stripped) removed.

    >>> address("杭州市, 西湖区", ("杭州市",)), address("杭州市", ("杭州市",))
    ('西湖区', '杭州市')
    """
    value = _spaces(key_text(value))
    ordered = sorted({_spaces(key_text(p)) for p in prefixes if p}, key=len, reverse=True)
    stripped = True
    while stripped:
        stripped = False
        for prefix in ordered:
            rest = value[len(prefix) :].lstrip(_SEPARATORS) if value.startswith(prefix) else ""
            if rest:  # an address that is only a prefix stays as it is
                value, stripped = rest, True
                break
    return value


NORMALISERS = {"address": "an address with or without the folder's address_prefixes"}


@dataclass(frozen=True, slots=True)
class KeyNorm:
    """A named normaliser of one ``group_by`` part, with what it needs from the rule folder."""

    name: str
    prefixes: tuple[str, ...] = ()

    def __call__(self, value: str) -> str:
        return address(value, self.prefixes)
