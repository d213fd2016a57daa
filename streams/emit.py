"""What the worker sends besides state: warnings, and dead letters with their reason."""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

import faust
import orjson

from clues.privacy import Masker, old_pseudonym_keys, pseudonym_key
from envelope.events import RiskWarning
from envelope.redact import bounded_reason
from envelope.settings import Settings
from streams import metrics as m
from streams.topics import Topics
from streams.verdicts import Verdict

log = logging.getLogger("riskloop.worker")
# Dead letters carry the original bytes (base64) and, up to this size, also as text to read.
# The topic holds raw producer input, personal data included: it is as sensitive as the
# event topics themselves.
TEXT_COPY_MAX = 64 * 1024
# A dead letter's key and value stay under this many bytes: a producer's default largest
# request (Faust's, 1,000,000), below a broker's default message.max.bytes (1 MiB), less room
# for the record's own framing.
DEADLETTER_MAX_BYTES = 1_000_000 - 1024
KEY_MAX = 1024  # a longer producer key is not copied: the dead letter names its size and hash
_MASKERS: dict[tuple[str, ...], Masker] = {}


def worker_masker(settings: Settings) -> Masker:
    """The worker's pseudonymiser: one per key setting, so what one agent seals another opens
    (and what the keys of earlier rotations sealed too)."""
    setting = (
        settings.pseudonym_key_file,
        settings.pseudonym_key,
        settings.pseudonym_old_keys_file,
        settings.pseudonym_old_keys,
    )
    if setting not in _MASKERS:
        _MASKERS[setting] = Masker(pseudonym_key(settings), old_pseudonym_keys(settings))
    return _MASKERS[setting]


class Emitter:
    """Where the evaluate step sends: warnings to risk.warnings (counted by rule, severity,
    region and department; shadow ones apart), and bad input to events.deadletter with the
    reason, where it was read and the original bytes."""

    def __init__(
        self,
        t: Topics,
        masker: Masker | None = None,
        group_by: Callable[[str], Sequence[str] | None] | None = None,
    ) -> None:
        self.t = t
        self.masker = masker  # personal identifiers leave the worker as pseudonyms
        self.group_by = group_by  # a rule id's group_by: which bare key parts name people

    def rule_key(self, verdict: Verdict) -> str:
        """The key the rules made of the warning a verdict was given on. The clue's key is
        pseudonymised, so it is opened from the warning's seal the verdict carries; a verdict
        with no seal keeps its key (a key naming nobody is not masked: it is the rules')."""
        if self.masker is None or not verdict.sealed:
            return verdict.key
        key = self.masker.original_key(verdict.sealed)
        if key is None:
            log.warning(
                "verdict %s on rule %s: its warning's seal does not open under the pseudonym "
                "key (rotated without keeping the old one?); no detector learns from it",
                verdict.id,
                verdict.rule_id,
            )
            return verdict.key
        return key

    async def warnings(self, warnings: list[RiskWarning]) -> None:
        for w in warnings:
            if w.details.get("shadow"):
                m.SHADOW_WARNINGS.labels(w.rule_id).inc()
            else:
                m.WARNINGS.labels(w.rule_id, w.severity, w.region, w.department).inc()
            if self.masker is not None:
                w = self.masker.mask_warning(w, self.group_by and self.group_by(w.rule_id))
            await self.t.warnings.send(key=w.fingerprint.encode(), value=w.to_json())

    async def deadletter(
        self, event: faust.EventT, reason: str, raw: bytes | None = None, source: str = ""
    ) -> None:
        """``raw``: the bad part of the record when it is not all of it (one event of a
        batch); ``source``: where that part was first read (``topic:partition:offset``), when
        not this record's place (an event judged after the shuffle)."""
        msg = event.message
        topic, partition, offset = msg.topic, msg.partition, msg.offset
        if source:
            topic, p, o = source.split(":")
            partition, offset = int(p), int(o)
        if raw is None:
            raw = event.value if isinstance(event.value, bytes) else b""
        reason = bounded_reason(reason)
        where: dict[str, Any] = {
            "topic": topic,
            "partition": partition,
            "offset": offset,
            **({"routed": f"{msg.topic}:{msg.partition}:{msg.offset}"} if source else {}),
        }
        key = msg.key
        if key is not None and len(key) > KEY_MAX:
            where |= {"key_size": len(key), "key_sha256": hashlib.sha256(key).hexdigest()}
            key = None
        value = dead_letter_value(reason, where, raw, DEADLETTER_MAX_BYTES - len(key or b""))
        m.DEADLETTERS.labels(topic, m.reason_kind(reason)).inc()
        log.warning("dead-letter %s[%s] offset %s: %s", topic, partition, offset, reason)
        await self.t.deadletter.send(key=key, value=value)


def dead_letter_value(reason: str, where: dict[str, Any], raw: bytes, limit: int) -> bytes:
    """The dead-letter record: ``reason``, ``where`` it was read, and the original bytes, in at
    most ``limit`` bytes of JSON.

    The bytes travel as base64 (``original_base64``), and as text too (``original``) when they
    are UTF-8 and at most ``TEXT_COPY_MAX``; ``original_size`` and ``original_sha256`` are of
    the whole. A record whose base64 would not fit under ``limit`` keeps its first bytes that
    do and says so (``original_truncated``): a 1 MiB record keeps about its first 750 KB.

    >>> v = orjson.loads(dead_letter_value("bad JSON", {"offset": 7}, b"x" * 3000, 1000))
    >>> v["original_size"], v["original_truncated"], len(base64.b64decode(v["original_base64"]))
    (3000, True, 597)
    """
    text: str | None = None
    if len(raw) <= TEXT_COPY_MAX:  # a big record travels once, as base64, not twice
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = None
    record: dict[str, Any] = {
        "reason": reason,
        **where,
        "original_size": len(raw),
        "original_sha256": hashlib.sha256(raw).hexdigest(),
        "original_truncated": False,
        "original": text,
        "original_base64": base64.b64encode(raw).decode(),
    }
    value = orjson.dumps(record)
    if len(value) <= limit:
        return value
    record.update(original=None, original_truncated=True, original_base64="")
    room = max(0, limit - len(orjson.dumps(record)))
    record["original_base64"] = base64.b64encode(raw[: room // 4 * 3]).decode()
    return orjson.dumps(record)
