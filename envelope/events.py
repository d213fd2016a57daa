"""The records that cross riskloop's boundaries: event envelopes, risk warnings, clue records.

Pure module: no Kafka, no Redis, no clock. Everything here is plain data with strict parsing,
so the live worker, the replay tools and the rule tests read events the same way.

Examples:
    >>> ev = Event.from_dict({
    ...     "id": "evt-1", "type": "application.submitted", "stream": "service",
    ...     "ts": "2026-03-02T09:15:00+08:00", "source": "portal", "region": "330106",
    ...     "department": "market-supervision", "entity": {"kind": "enterprise", "id": "E1"},
    ...     "attrs": {"item": "food-license"}})
    >>> ev.ts_ms, ev.get("attrs.item"), ev.get("entity.id"), ev.get("attrs.missing")
    (1772414100000, 'food-license', 'E1', None)
    >>> Event.from_dict({"id": "x"})
    Traceback (most recent call last):
    ...
    envelope.events.InvalidEvent: missing field 'type'
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from envelope.errors import UserError
from envelope.paths import getter
from envelope.redact import mask_personal

STREAMS = ("service", "regulatory")
REQUIRED = ("id", "type", "stream", "ts", "source", "region", "department", "entity")


class InvalidEvent(UserError, ValueError):
    """An input that is not a valid event envelope; the message is the dead-letter reason."""


# Strict ISO 8601 / RFC 3339: a date, 'T' (or one space), a time with optional fraction, then
# 'Z' or +HH:MM, and nothing else (no space before the offset, no trailing text).
_TIME = r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?"
_TIMESTAMP = re.compile(_TIME + r"(?:Z|[+-]\d{2}:\d{2})")
_NO_OFFSET = re.compile(_TIME)


EXCERPT_CHARS = 40  # of a bad value, in a reason: enough to find it, never the whole of it


def excerpt(value: Any) -> str:
    """A bad value as a reason shows it: its repr, ID and phone numbers masked, cut short. A
    200 KB field must not become a 200 KB log line or dead-letter reason.

    >>> excerpt("330102"), excerpt("x" * 500), excerpt(13800138000)
    ("'330102'", "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx… (502 chars)", '<phone>')
    """
    text = mask_personal(repr(value))
    return (
        text if len(text) <= EXCERPT_CHARS + 10 else f"{text[:EXCERPT_CHARS]}… ({len(text)} chars)"
    )


def parse_ts_ms(value: Any) -> int:
    """ISO 8601 with an explicit UTC offset -> epoch milliseconds.

    >>> parse_ts_ms("2026-03-02T01:15:00Z")
    1772414100000
    >>> try:
    ...     parse_ts_ms("2026-03-02 09:15")
    ... except InvalidEvent as exc:
    ...     print(exc)
    bad timestamp '2026-03-02 09:15': needs a UTC offset, like '2026-03-02T09:15:00+08:00'
    >>> try:
    ...     parse_ts_ms("2026-03-09T10:00:00 +08:00")
    ... except InvalidEvent as exc:
    ...     print(exc)  # a space before the offset
    bad timestamp '2026-03-09T10:00:00 +08:00': not ISO 8601, like '2026-03-02T09:15:00+08:00'
    """
    if not isinstance(value, str):
        raise InvalidEvent(f"bad timestamp {excerpt(value)}: must be an ISO 8601 string")
    if _NO_OFFSET.fullmatch(value):
        raise InvalidEvent(
            f"bad timestamp {excerpt(value)}: needs a UTC offset, like '2026-03-02T09:15:00+08:00'"
        )
    if not _TIMESTAMP.fullmatch(value):
        raise InvalidEvent(
            f"bad timestamp {excerpt(value)}: not ISO 8601, like '2026-03-02T09:15:00+08:00'"
        )
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidEvent(
            f"bad timestamp {excerpt(value)}: not ISO 8601, like '2026-03-02T09:15:00+08:00'"
        ) from None
    if dt.tzinfo is None:
        raise InvalidEvent(
            f"bad timestamp {excerpt(value)}: needs a UTC offset, like '2026-03-02T09:15:00+08:00'"
        )
    return int(dt.timestamp() * 1000)


_TYPE = re.compile(r"[^\s.]+(?:\.[^\s.]+)+")  # domain.action: dotted, no blank part, no spaces
_REGION = re.compile(r"[0-9]*")  # an administrative division code, or "" (not known)


def _text(d: dict[str, Any], name: str) -> str:
    v = d[name]
    if not isinstance(v, str) or not v:
        raise InvalidEvent(f"field {name!r} must be a non-empty string, got {excerpt(v)}")
    return v


def _label(d: dict[str, Any], name: str) -> str:
    """A non-empty text field that scopes clues or labels metrics: no spaces around it."""
    v = _text(d, name)
    if v != v.strip():
        raise InvalidEvent(f"field {name!r} must not start or end with spaces, got {excerpt(v)}")
    return v


def _region(d: dict[str, Any]) -> str:
    """An administrative division code of ASCII digits, or "" (a region not known)."""
    v = d["region"]
    if not isinstance(v, str):
        raise InvalidEvent(f"field 'region' must be a string, got {excerpt(v)}")
    if not (v.isascii() and _REGION.fullmatch(v)):
        raise InvalidEvent(
            f"field 'region' must be a division code of digits like '330106', got {excerpt(v)}"
        )
    return v


def _entity_text(entity: dict[str, Any], name: str) -> str:
    v = entity[name]
    if not isinstance(v, str) or not v.strip():
        raise InvalidEvent(f"field 'entity.{name}' must be a non-empty string, got {excerpt(v)}")
    return v


@dataclass(frozen=True, slots=True)
class Event:
    """One event envelope (see DESIGN.md). ``ts_ms`` is the event time in epoch ms."""

    id: str
    type: str
    stream: str
    ts: str
    ts_ms: int
    source: str
    region: str
    department: str
    entity_kind: str
    entity_id: str
    attrs: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: Any) -> Event:
        if not isinstance(d, dict):
            raise InvalidEvent(f"event must be a JSON object, got {type(d).__name__}")
        for name in REQUIRED:
            if name not in d or d[name] is None:
                raise InvalidEvent(f"missing field {name!r}")
        stream = _text(d, "stream")
        if stream not in STREAMS:
            raise InvalidEvent(
                f"unknown stream {excerpt(stream)}: must be one of {', '.join(STREAMS)}"
            )
        etype = _text(d, "type")
        if not _TYPE.fullmatch(etype):
            raise InvalidEvent(f"type {excerpt(etype)} must be dotted domain.action")
        entity = d["entity"]
        if not isinstance(entity, dict) or not entity.get("kind") or not entity.get("id"):
            raise InvalidEvent("field 'entity' must be an object with 'kind' and 'id'")
        attrs = d.get("attrs") or {}
        if not isinstance(attrs, dict):
            raise InvalidEvent("field 'attrs' must be an object")
        return cls(
            id=_text(d, "id"),
            type=etype,
            stream=stream,
            ts=d["ts"],
            ts_ms=parse_ts_ms(d["ts"]),
            source=_label(d, "source"),
            region=_region(d),
            department=_label(d, "department"),
            entity_kind=_entity_text(entity, "kind"),
            entity_id=_entity_text(entity, "id"),
            attrs=attrs,
        )

    @classmethod
    def from_json(cls, raw: bytes | str) -> Event:
        try:
            d = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise InvalidEvent(f"bad JSON: {exc}") from None
        return cls.from_dict(d)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "stream": self.stream,
            "ts": self.ts,
            "source": self.source,
            "region": self.region,
            "department": self.department,
            "entity": {"kind": self.entity_kind, "id": self.entity_id},
            "attrs": self.attrs,
        }

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_dict())

    def get(self, path: str) -> Any:
        """Value at a dotted path (``attrs.item``, ``entity.id``, ``region``); None if absent."""
        return getter(path)(self)


def stable_id(*parts: object, prefix: str = "") -> str:
    """A short deterministic id from parts (sha256, 20 hex digits).

    >>> stable_id("r1", 3, "k", prefix="w-")
    'w-43c44a75ed4fc8a0b4e5'
    """
    h = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()
    return prefix + h[:20]


@dataclass(frozen=True, slots=True)
class RiskWarning:
    """A rule's finding. ``id`` is deterministic: re-processing yields the same id.

    ``fingerprint`` groups repeated warnings of one rule for one key into a single clue.
    """

    id: str
    fingerprint: str
    rule_id: str
    rule_version: int
    logic_hash: str
    severity: str
    title: str
    key: str
    ts_ms: int
    region: str
    department: str
    stage: str = "fired"
    value: float | None = None
    window_start_ms: int | None = None
    window_end_ms: int | None = None
    summary: str = ""
    tags: tuple[str, ...] = ()
    evidence: tuple[str, ...] = ()
    # JSON-able extras from the rule engine: "entity" {kind, id} of the triggering event,
    # "fields" (evidence values), "top" (top values), "suppressed" (count held back since
    # the previous warning), "shadow" (true: experimental rule, never enqueue as a clue).
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "fingerprint": self.fingerprint,
            "rule_id": self.rule_id,
            "rule_version": self.rule_version,
            "logic_hash": self.logic_hash,
            "severity": self.severity,
            "title": self.title,
            "key": self.key,
            "ts_ms": self.ts_ms,
            "region": self.region,
            "department": self.department,
            "stage": self.stage,
            "value": self.value,
            "window_start_ms": self.window_start_ms,
            "window_end_ms": self.window_end_ms,
            "summary": self.summary,
            "tags": list(self.tags),
            "evidence": list(self.evidence),
            "details": self.details,
        }

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RiskWarning:
        return cls(
            **{
                **d,
                "tags": tuple(d.get("tags") or ()),
                "evidence": tuple(d.get("evidence") or ()),
                "details": dict(d.get("details") or {}),
            }
        )

    @classmethod
    def from_json(cls, raw: bytes | str) -> RiskWarning:
        return cls.from_dict(orjson.loads(raw))


OUTCOMES = ("confirmed", "dismissed")
# ``kind`` of the records on ``clue.dispositions``: a verdict, or any step of a clue.
KIND_DISPOSITION = "disposition"
KIND_TRANSITION = "transition"


@dataclass(frozen=True, slots=True)
class Disposition:
    """An inspector's verdict on a clue, published to ``clue.dispositions``.

    ``outcome`` is ``confirmed`` (a real risk) or ``dismissed`` (a false positive); ``code``
    carries the finer disposition code. The JSON carries ``"kind": "disposition"``; records
    written before that field existed (no ``kind``) still parse.
    """

    id: str
    clue_id: str
    rule_id: str
    key: str
    outcome: str
    code: str
    actor: str
    ts_ms: int
    warning_ids: tuple[str, ...] = ()
    # The clue's warning's sealed originals, as the worker made them: the worker opens the
    # rules' own key from it, since ``key`` is the clue's pseudonymised one.
    sealed: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": KIND_DISPOSITION,
            "id": self.id,
            "clue_id": self.clue_id,
            "rule_id": self.rule_id,
            "key": self.key,
            "outcome": self.outcome,
            "code": self.code,
            "actor": self.actor,
            "ts_ms": self.ts_ms,
            "warning_ids": list(self.warning_ids),
        } | ({"sealed": self.sealed} if self.sealed else {})

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Disposition:
        fields = {k: v for k, v in d.items() if k != "kind"}
        _expect_kind(d, KIND_DISPOSITION)
        return cls(**{**fields, "warning_ids": tuple(d.get("warning_ids") or ())})

    @classmethod
    def from_json(cls, raw: bytes | str) -> Disposition:
        return cls.from_dict(orjson.loads(raw))


def _expect_kind(d: dict[str, Any], kind: str) -> None:
    got = d.get("kind", KIND_DISPOSITION)  # records without a kind predate transitions
    if got != kind:
        raise ValueError(f"record {d.get('id')!r} is a {got!r}, not a {kind!r}")


def transition_id(clue_id: str, version: int) -> str:
    """Deterministic id of a clue's step: the clue and the version the step produced.

    The clue store's Lua builds the same string, so a re-sent record keeps its id.

    >>> transition_id("clue-316e2296dc2206084d37", 3)
    'clue-316e2296dc2206084d37@v3'
    """
    return f"{clue_id}@v{version}"


@dataclass(frozen=True, slots=True)
class ClueTransition:
    """One step of a clue (dispatch, claim, return, dispose, ...) on ``clue.dispositions``.

    Published next to the verdicts, keyed by clue id so a clue's steps stay in order.
    ``before`` / ``after`` hold the state fields the step changed ("" = absent);
    ``reason`` and both maps are pseudonymised when published. Steps that keep the status
    (comment, label, deadline colour) have ``from_status == to_status``.
    """

    id: str
    clue_id: str
    rule_id: str
    action: str
    from_status: str
    to_status: str
    actor: str
    role: str
    ts_ms: int
    reason: str
    version: int
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": KIND_TRANSITION,
            "id": self.id,
            "clue_id": self.clue_id,
            "rule_id": self.rule_id,
            "action": self.action,
            "from_status": self.from_status,
            "to_status": self.to_status,
            "actor": self.actor,
            "role": self.role,
            "ts_ms": self.ts_ms,
            "reason": self.reason,
            "version": self.version,
            "before": self.before,
            "after": self.after,
        }

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ClueTransition:
        if "kind" not in d:
            raise ValueError(f"record {d.get('id')!r} has no kind: not a clue transition")
        _expect_kind(d, KIND_TRANSITION)
        fields = {k: v for k, v in d.items() if k != "kind"}
        return cls(
            **{
                **fields,
                "ts_ms": int(d["ts_ms"]),
                "version": int(d["version"]),
                "before": dict(d.get("before") or {}),
                "after": dict(d.get("after") or {}),
            }
        )

    @classmethod
    def from_json(cls, raw: bytes | str) -> ClueTransition:
        return cls.from_dict(orjson.loads(raw))


def parse_clue_record(raw: bytes | str) -> Disposition | ClueTransition:
    """A record from ``clue.dispositions``, by its ``kind`` (none: an older Disposition).

    >>> parse_clue_record(b'{"kind": "transition", "id": "c@v2", "clue_id": "c", '
    ...     b'"rule_id": "r", "action": "claim", "from_status": "dispatched", '
    ...     b'"to_status": "claimed", "actor": "alice", "role": "inspector", '
    ...     b'"ts_ms": 1772414100000, "reason": "", "version": 2}').to_status
    'claimed'
    """
    d = orjson.loads(raw)
    if not isinstance(d, dict):
        raise ValueError(f"a clue record must be a JSON object, got {type(d).__name__}")
    if d.get("kind") == KIND_TRANSITION:
        return ClueTransition.from_dict(d)
    return Disposition.from_dict(d)
