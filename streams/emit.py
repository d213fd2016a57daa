"""What the worker sends besides state: warnings, and dead letters with their reason."""

from __future__ import annotations

import base64
import logging

import faust
import orjson

from envelope.events import RiskWarning
from streams import metrics as m
from streams.topics import Topics

log = logging.getLogger("riskloop.worker")
# Dead letters carry the original bytes (base64) and, up to this size, also as text to read.
# The topic holds raw producer input, personal data included: it is as sensitive as the
# event topics themselves.
TEXT_COPY_MAX = 64 * 1024


class Emitter:
    """Where the evaluate step sends: warnings to risk.warnings (counted by rule, severity,
    region and department; shadow ones apart), and bad input to events.deadletter with the
    reason, where it was read and the original bytes."""

    def __init__(self, t: Topics) -> None:
        self.t = t

    async def warnings(self, warnings: list[RiskWarning]) -> None:
        for w in warnings:
            if w.details.get("shadow"):
                m.SHADOW_WARNINGS.labels(w.rule_id).inc()
            else:
                m.WARNINGS.labels(w.rule_id, w.severity, w.region, w.department).inc()
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
        text: str | None = None
        if len(raw) <= TEXT_COPY_MAX:  # a big record travels once, as base64, not twice
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = None
        record = {
            "reason": reason,
            "topic": topic,
            "partition": partition,
            "offset": offset,
            **({"routed": f"{msg.topic}:{msg.partition}:{msg.offset}"} if source else {}),
            "original": text,
            "original_base64": base64.b64encode(raw).decode(),
        }
        m.DEADLETTERS.labels(topic, m.reason_kind(reason)).inc()
        log.warning("dead-letter %s[%s] offset %s: %s", topic, partition, offset, reason)
        await self.t.deadletter.send(key=msg.key, value=orjson.dumps(record))
