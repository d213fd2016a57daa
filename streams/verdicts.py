"""Inspectors' verdicts for the detectors, on a topic of their own (``risk.verdicts``).

The worker's feedback agent is the only writer: it reads ``clue.dispositions`` (written only
by the clue API's outbox) and forwards each verdict on a detector rule's warning to every
partition of ``risk.verdicts`` (the key's partition is not known there; an engine with no
warning waiting for the key ignores it). The evaluate agent reads that topic in the same
stream as the event topics, which have the same partition count, so partition p of all
three is assigned to the same worker and its engine applies them one at a time: a verdict
is checkpointed and acknowledged like an event, and it never moves event time.

What a record is depends on its topic alone. Headers are anyone's to set: on an event topic
every record is parsed as an event, so a verdict produced there is dead-lettered as any
other bad input and no detector learns from it.

>>> record_kind("risk.verdicts"), record_kind("events.service")
('verdict', 'event')
>>> v = parse_verdict(b'{"rule_id": "r", "key": "k", "outcome": "dismissed", "id": "d1"}')
>>> parse_verdict(v.to_json()) == v
True
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import orjson

from envelope.events import OUTCOMES, Disposition
from envelope.topics import TOPIC_VERDICTS

RecordKind = Literal["event", "verdict"]
FIELDS = ("rule_id", "key", "outcome", "id")


class InvalidVerdict(ValueError):
    """A record on the verdicts topic that is not a verdict; the message is the dead-letter
    reason (it starts with ``bad verdict``)."""


@dataclass(frozen=True)
class Verdict:
    """What an engine needs of a disposition: the rule, the key, the outcome (and the
    disposition's id, to trace it). ``key`` is the clue's, pseudonymised; ``sealed``, the
    clue's warning's sealed originals, gives the evaluate agent the rules' own key."""

    rule_id: str
    key: str
    outcome: str
    id: str
    sealed: str = ""

    @classmethod
    def of(cls, d: Disposition) -> Verdict:
        return cls(d.rule_id, d.key, d.outcome, d.id, d.sealed)

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self))


def record_kind(topic: str) -> RecordKind:
    """What a record the evaluate agent reads is: decided by its topic, never by a header."""
    return "verdict" if topic == TOPIC_VERDICTS else "event"


def verdict_record(d: Disposition) -> bytes:
    """The bytes the feedback agent writes to the verdicts topic for ``d``."""
    return Verdict.of(d).to_json()


def parse_verdict(raw: bytes | None) -> Verdict:
    """A record of the verdicts topic; raises :class:`InvalidVerdict` with the reason.

    >>> def reason(raw):
    ...     try:
    ...         return parse_verdict(raw)
    ...     except InvalidVerdict as exc:
    ...         return str(exc)
    >>> reason(b"{nope")
    'bad verdict: bad JSON: unexpected character, expected a string key: line 1 column 2 (char 1)'
    >>> reason(b'{"rule_id": "r", "key": "k", "outcome": "maybe", "id": "d"}')
    "bad verdict: outcome must be one of confirmed, dismissed, got 'maybe'"
    >>> reason(b'{"rule_id": "r", "key": 7, "outcome": "dismissed", "id": "d"}')
    'bad verdict: key must be a string'
    >>> reason(b'{"rule_id": "r", "key": "k", "outcome": "dismissed", "id": "d", "sealed": 1}')
    'bad verdict: sealed must be a string'
    """
    try:
        doc = orjson.loads(raw or b"")
    except orjson.JSONDecodeError as exc:
        raise InvalidVerdict(f"bad verdict: bad JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise InvalidVerdict(f"bad verdict: not a JSON object but {type(doc).__name__}")
    for name in FIELDS:
        if name not in doc:
            raise InvalidVerdict(f"bad verdict: missing field {name!r}")
        if not isinstance(doc[name], str):
            raise InvalidVerdict(f"bad verdict: {name} must be a string")
    if not isinstance(doc.get("sealed", ""), str):
        raise InvalidVerdict("bad verdict: sealed must be a string")
    if doc["outcome"] not in OUTCOMES:
        allowed = ", ".join(OUTCOMES)
        raise InvalidVerdict(
            f"bad verdict: outcome must be one of {allowed}, got {doc['outcome']!r}"
        )
    return Verdict(doc["rule_id"], doc["key"], doc["outcome"], doc["id"], doc.get("sealed", ""))
