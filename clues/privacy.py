"""Pseudonymise personal identifiers in clue views. Pure module: the key is an argument.

Personal identifiers are: the entity of a warning whose kind is a person (citizen, staff
account, official …), values of personal key parts (``applicant=…``, ``account=…``) and
anything shaped like a PRC resident ID number or a mobile number. Each is replaced by
``pid-`` and 12 hex digits of an HMAC-SHA256 under the store's secret key, so the same
person gets the same pseudonym in every view (analysts can still group by it) and nobody
without the key can reverse it. Only the audited identity view shows the originals.

The key comes from ``RISKLOOP_PSEUDONYM_KEY_FILE`` (a mounted secret) or
``RISKLOOP_PSEUDONYM_KEY``, the keys of earlier rotations from
``RISKLOOP_PSEUDONYM_OLD_KEYS_FILE`` or ``RISKLOOP_PSEUDONYM_OLD_KEYS``, never from Redis
(``pseudonym_key``): whoever can read the store must not be able to reverse its pseudonyms of
phone and ID numbers by trying them all. The masking itself is
:class:`envelope.pseudonym.Masker` (examples there); a key too short to resist trying is
refused at start-up:

    >>> pseudonym_key(Settings(pseudonym_key="too short"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    clues.privacy.BadPseudonymKey: RISKLOOP_PSEUDONYM_KEY: the key is 9 bytes; use at least 16...
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from envelope import pseudonym
from envelope.errors import UserError
from envelope.pseudonym import SEALED
from envelope.settings import Settings

log = logging.getLogger(__name__)
MIN_KEY_BYTES = 16

PERSONAL_KEY_PARTS = pseudonym.PERSONAL_KEY_PARTS
# Text of the rule's and of what people write on a clue (labels, the extension's reason, the
# case reference, the verdict's note; evidence names and uris): masked like the audit entries
# of the same steps.
TEXT_FIELDS = ("title", "summary", "key", "note", "ext_reason", "case_ref")
EVIDENCE_TEXT = ("uri", "name")


class Masker(pseudonym.Masker):
    """Replaces personal identifiers by keyed pseudonyms (``envelope.pseudonym``, the
    worker's too), with what a clue view adds: the clue's text, labels and evidence."""

    def evidence(self, ref: dict[str, Any], known: Iterable[str]) -> dict[str, Any]:
        """An evidence reference with its uri and name masked (its sha256 left as it is)."""
        return {
            k: self.text(v, known) if k in EVIDENCE_TEXT and isinstance(v, str) else v
            for k, v in ref.items()
        }

    def clue(self, clue: dict[str, Any]) -> dict[str, Any]:
        """A copy of a clue's dict with every personal identifier pseudonymised and the
        sealed originals left out."""
        known = personal_values(clue)
        out = dict(clue)
        for name in TEXT_FIELDS:
            if isinstance(out.get(name), str):
                out[name] = self.text(out[name], known)
        if out.get("details"):
            details = {k: v for k, v in out["details"].items() if k != SEALED}
            out["details"] = self.value(details, known)
        if out.get("labels"):
            out["labels"] = [self.text(label, known) for label in out["labels"]]
        if out.get("evidence_refs"):
            out["evidence_refs"] = [self.evidence(ref, known) for ref in out["evidence_refs"]]
        out["pseudonymised"] = True
        return out

    def reveal(self, clue: dict[str, Any]) -> dict[str, Any]:
        """A clue's dict with the originals the worker sealed in its details put back."""
        details = clue.get("details") or {}
        sealed = details.get(SEALED)
        originals = self.unseal(sealed) if isinstance(sealed, str) else None
        if originals is None:
            return {**clue, "details": {k: v for k, v in details.items() if k != SEALED}}
        return {**clue, **originals}


def personal_values(clue: dict[str, Any]) -> set[str]:
    """The raw identifiers a clue names: a personal entity id and personal key parts."""
    return pseudonym.personal_values(str(clue.get("key", "")), clue.get("details"))


class BadPseudonymKey(UserError, ValueError):
    """A pseudonym key setting that cannot be used; the message names the setting."""


def pseudonym_key(settings: Settings) -> bytes:
    """The pseudonym key: the file's content, else the variable's value (at least 16 bytes).

    Neither set: a random key for this process only, with a warning (pseudonyms then differ
    between processes and restarts: fine for a demo, not for a deployment).
    """
    if settings.pseudonym_key_file:
        key = _read_secret("RISKLOOP_PSEUDONYM_KEY_FILE", settings.pseudonym_key_file).strip()
        source = "RISKLOOP_PSEUDONYM_KEY_FILE"
    elif settings.pseudonym_key:
        key, source = settings.pseudonym_key.encode(), "RISKLOOP_PSEUDONYM_KEY"
    else:
        log.warning(
            "no RISKLOOP_PSEUDONYM_KEY_FILE or RISKLOOP_PSEUDONYM_KEY: pseudonyms use a key"
            " made for this process and change when it restarts"
        )
        return secrets.token_bytes(32)
    _check_length(key, source)
    return key


def old_pseudonym_keys(settings: Settings) -> tuple[bytes, ...]:
    """The keys of earlier rotations: those of ``RISKLOOP_PSEUDONYM_OLD_KEYS_FILE`` (one a
    line, blank lines skipped), then those of ``RISKLOOP_PSEUDONYM_OLD_KEYS`` (separated by
    commas, blanks skipped). They open the seals they made, never make a pseudonym."""
    keys: list[bytes] = []
    if settings.pseudonym_old_keys_file:
        path = Path(settings.pseudonym_old_keys_file).expanduser()
        lines = _read_secret("RISKLOOP_PSEUDONYM_OLD_KEYS_FILE", str(path)).splitlines()
        keys += _checked(lines, f"RISKLOOP_PSEUDONYM_OLD_KEYS_FILE={str(path)!r} line")
    if settings.pseudonym_old_keys:
        parts = [p.encode() for p in settings.pseudonym_old_keys.split(",")]
        keys += _checked(parts, "RISKLOOP_PSEUDONYM_OLD_KEYS key")
    return tuple(keys)


def _checked(entries: list[bytes], where: str) -> list[bytes]:
    """The non-blank entries, stripped; a short one is refused naming ``where`` and its
    number (1 = the first entry, blanks counted), never its text."""
    keys = [(n, e.strip()) for n, e in enumerate(entries, 1) if e.strip()]
    for n, key in keys:
        _check_length(key, f"{where} {n}")
    return [key for _, key in keys]


def _read_secret(setting: str, file: str) -> bytes:
    path = Path(file).expanduser()
    try:
        return path.read_bytes()
    except OSError as exc:
        raise BadPseudonymKey(f"{setting}={str(path)!r}: cannot read it ({exc.strerror})") from None


def _check_length(key: bytes, source: str) -> None:
    if len(key) < MIN_KEY_BYTES:
        raise BadPseudonymKey(
            f"{source}: the key is {len(key)} bytes; use at least {MIN_KEY_BYTES}"
            " (e.g. `openssl rand -hex 32`)"
        )
