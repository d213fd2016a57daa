"""Keyed pseudonyms of personal identifiers, and the sealed originals. Pure: the key is an
argument.

Personal identifiers are: the entity of a warning whose kind is a person (citizen, staff
account, official …), values of personal key parts (``applicant=…``, ``account=…``) and
anything shaped like a PRC resident ID number or a mobile number. Each is replaced by
``pid-`` and 12 hex digits of an HMAC-SHA256 under the pseudonym key, so the same person
gets the same pseudonym everywhere (analysts can still group by it) and nobody without the
key can reverse it. The worker masks each warning so before it leaves (``mask_warning``) and
seals the originals in ``details["sealed"]`` (Fernet, under a key derived from the pseudonym
key): only the audited identity view of the clue API opens them.

>>> m = Masker(b"k")
>>> m.text("region=330106|applicant=cit-9f2", ())
'region=330106|applicant=pid-ae4cff28910e'
>>> m.text("call 13800138000 about 110101199003077777", ())
'call pid-af8579fcbb48 about pid-3182a833f9b8'
>>> m.text("申请人cit-9f2来电; cit-9f27 is someone else", ("cit-9f2",))
'申请人pid-ae4cff28910e来电; cit-9f27 is someone else'
>>> m.value({"attrs": {"inspector": "stf-1", "dataset": "household"}}, ())
{'attrs': {'inspector': 'pid-bde0e10a5a08', 'dataset': 'household'}}
>>> m.unseal(m.seal({"key": "applicant=cit-9f2"}))
{'key': 'applicant=cit-9f2'}
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import re
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from envelope import keyparts
from envelope.events import RiskWarning
from envelope.redact import ID_CARD, PHONE
from envelope.vocabulary import PERSONAL_ATTRS, PERSONAL_KINDS

PERSONAL_KEY_PARTS = PERSONAL_ATTRS
KEY_PART = re.compile(r"(?P<name>[A-Za-z_][\w.]*)=(?P<value>[^|,;&\s]+)")
SEALED = "sealed"  # the details entry holding the originals, encrypted
# What a warning says that may name a person, sealed before it is masked.
WARNING_TEXT = ("title", "summary", "key")


class Masker:
    """Replaces personal identifiers by keyed pseudonyms; seals and opens the originals.

    ``older``: keys of earlier rotations, still accepted to open what they sealed.
    """

    def __init__(self, key: bytes, older: Sequence[bytes] = ()) -> None:
        self.key = key
        self._fernet = MultiFernet([_fernet(k) for k in (key, *older)])

    def pseudonym(self, value: str) -> str:
        digest = hmac.new(self.key, value.encode(), hashlib.sha256).hexdigest()
        return "pid-" + digest[:12]

    def text(self, text: str, known: Iterable[str]) -> str:
        """``text`` with known identifiers, personal key parts, ID and phone numbers masked.

        A known identifier is masked where it stands on its own, not inside a longer word
        or id (``cit-1`` in ``cit-12`` or ``clue-cit-1x``); Chinese text around it is fine.
        """
        for value in sorted(set(known), key=len, reverse=True):
            if value:
                alone = re.compile(rf"(?<![0-9A-Za-z_-]){re.escape(value)}(?![0-9A-Za-z_-])")
                text = alone.sub(self.pseudonym(value), text)

        def part(m: re.Match[str]) -> str:
            name = m.group("name").rsplit(".", 1)[-1].lower()
            if name in PERSONAL_KEY_PARTS and not m.group("value").startswith("pid-"):
                return f"{m.group('name')}={self.pseudonym(m.group('value'))}"
            return m.group(0)

        text = KEY_PART.sub(part, text)
        text = ID_CARD.sub(lambda m: self.pseudonym(m.group(0)), text)
        return PHONE.sub(lambda m: self.pseudonym(m.group(0)), text)

    def value(self, v: Any, known: Iterable[str]) -> Any:
        """Mask every string inside a JSON-like value; a string under a personal attribute's
        name (``official``, ``attrs.inspector`` …) is a pseudonym as a whole."""
        if isinstance(v, str):
            return self.text(v, known)
        if isinstance(v, list | tuple):
            return [self.value(x, known) for x in v]
        if isinstance(v, dict):
            return {k: self._entry(k, x, known) for k, x in v.items()}
        return v

    def _entry(self, name: Any, v: Any, known: Iterable[str]) -> Any:
        if str(name).rsplit(".", 1)[-1].lower() in PERSONAL_KEY_PARTS:
            return self._whole(v)
        return self.value(v, known)

    def _whole(self, v: Any) -> Any:
        """Every string in ``v`` a pseudonym (the values, or top values, of a personal field)."""
        if isinstance(v, str):
            return v if not v or v.startswith("pid-") else self.pseudonym(v)
        if isinstance(v, list | tuple):
            return [self._whole(x) for x in v]
        if isinstance(v, dict):
            return {k: self._whole(x) for k, x in v.items()}
        return v

    def seal(self, originals: dict[str, Any]) -> str:
        return self._fernet.encrypt(orjson.dumps(originals)).decode()

    def unseal(self, token: str) -> dict[str, Any] | None:
        """The sealed originals; None when no key given opens them."""
        try:
            out: dict[str, Any] = orjson.loads(self._fernet.decrypt(token.encode()))
        except (InvalidToken, ValueError):
            return None
        return out

    def mask_warning(self, w: RiskWarning, group_by: Sequence[str] | None = None) -> RiskWarning:
        """``w`` with every personal identifier pseudonymised and the originals sealed.

        ``group_by``: the rule's, naming the parts of a key of bare values (``stf-1`` of a
        rule grouped by ``attrs.official``). ``id`` and ``fingerprint`` stay as computed:
        they are hashes made before masking.
        """
        if w.details.get(SEALED):
            return w
        known = personal_values(w.key, w.details) | key_parts_named(w.key, group_by, w.details)
        originals = {n: getattr(w, n) for n in WARNING_TEXT} | {"details": w.details}
        details = self.value(w.details, known) | {SEALED: self.seal(originals)}
        title, summary, key = (self.text(getattr(w, n), known) for n in WARNING_TEXT)
        return dataclasses.replace(w, title=title, summary=summary, key=key, details=details)

    def original_key(self, sealed: str) -> str | None:
        """The key the rules made, opened from a warning's seal; None when no key given
        opens it. A verdict carries the seal of its clue's warning, since the clue's key is
        pseudonymised and a detector's state is kept under the rules' own key.

        >>> m = Masker(b"k")
        >>> sealed = m.seal({"key": "applicant=cit-9f2", "title": "t"})
        >>> m.original_key(sealed), Masker(b"another key").original_key(sealed)
        ('applicant=cit-9f2', None)
        """
        raw = (self.unseal(sealed) or {}).get("key")
        return raw if isinstance(raw, str) else None

    def unmask_warning(self, w: RiskWarning) -> RiskWarning:
        """The warning as the rules made it, when its seal opens (rules on warnings see what
        a backtest sees); else ``w`` as it is."""
        sealed = w.details.get(SEALED)
        originals = self.unseal(sealed) if isinstance(sealed, str) else None
        return w if originals is None else dataclasses.replace(w, **originals)


def personal_values(key: str, details: dict[str, Any] | None) -> set[str]:
    """The raw identifiers a warning or clue names: a personal entity id, personal key parts."""
    values: set[str] = set()
    entity = (details or {}).get("entity") or {}
    if str(entity.get("kind", "")).lower() in PERSONAL_KINDS and entity.get("id"):
        values.add(str(entity["id"]))
    for m in KEY_PART.finditer(key):
        if m.group("name").rsplit(".", 1)[-1].lower() in PERSONAL_KEY_PARTS:
            values.add(m.group("value"))
    _named(details or {}, values)  # a key of bare values (``330106|stf-1``) names them too
    return values


def key_parts_named(
    key: str, group_by: Sequence[str] | None, details: dict[str, Any] | None = None
) -> set[str]:
    """The parts of a key of bare values that name a person, by the fields they came from:
    a personal attribute (``attrs.official``), or ``entity.id`` of a personal entity."""
    if not group_by:
        return set()
    parts = keyparts.split(key)
    if len(parts) != len(group_by):
        return set()
    entity = (details or {}).get("entity") or {}
    person = str(entity.get("kind", "")).lower() in PERSONAL_KINDS
    return {
        part
        for part, name in zip(parts, group_by, strict=True)
        if part
        and (
            name.split("|", 1)[0].rsplit(".", 1)[-1].lower() in PERSONAL_KEY_PARTS
            or (name == "entity.id" and person)
        )
    }


def _named(v: Any, into: set[str]) -> None:
    """Add the strings ``v`` holds under a personal attribute's name (``attrs.official``)."""
    if isinstance(v, dict):
        for k, x in v.items():
            if str(k).rsplit(".", 1)[-1].lower() in PERSONAL_KEY_PARTS and isinstance(x, str):
                if x and not x.startswith("pid-"):
                    into.add(x)
            else:
                _named(x, into)
    elif isinstance(v, list | tuple):
        for x in v:
            _named(x, into)


def _fernet(key: bytes) -> Fernet:
    """A Fernet key derived from a pseudonym key, apart from the pseudonyms' own use of it."""
    derived = hmac.new(key, b"riskloop sealed originals", hashlib.sha256).digest()
    return Fernet(base64.urlsafe_b64encode(derived))
