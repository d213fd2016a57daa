"""The clue record, its states and the one table of legal transitions.

Pure module: no Redis, no clock. The store (``clues.store``) generates its Lua scripts from the
tables here, so the state machine is written down once. To grow the machine (dispatched,
verifying, escalated, closed, ...) add statuses and rows to ``TRANSITIONS``; the scripts pick
them up.

Examples:
    >>> clue_id("fp-1")
    'clue-316e2296dc2206084d37'
    >>> clue_id("fp-1", 1) != clue_id("fp-1", 0)
    True
    >>> check_transition("claim", NEW)
    'claimed'
    >>> check_transition("dispose", NEW)
    Traceback (most recent call last):
    ...
    clues.model.IllegalTransition: cannot dispose a clue that is new (allowed from: claimed)
    >>> outcome_of("rectified"), outcome_of("false_positive")
    ('confirmed', 'dismissed')
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

# --- statuses -------------------------------------------------------------------------------

NEW = "new"
CLAIMED = "claimed"
DISPOSED = "disposed"
STATUSES = (NEW, CLAIMED, DISPOSED)
# A warning whose fingerprint points at an open clue merges into it; otherwise a new
# generation is opened. Terminal statuses are never reopened.
OPEN_STATUSES = (NEW, CLAIMED)
TERMINAL_STATUSES = (DISPOSED,)

# How each status index orders its clues (ascending score = display order); the Lua in
# clues.store computes these scores:
#   new       most severe first, then oldest first_seen   (the work queue)
#   claimed   soonest lease expiry first                   (the reaper reads it)
#   disposed  most recently disposed first
#   all       most recent first_seen first                 (GET /clues without a status)
ALL = "all"


@dataclass(frozen=True, slots=True)
class Transition:
    """One verb of the state machine: legal source statuses and the target status."""

    action: str
    sources: tuple[str, ...]
    target: str


TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        Transition("open", (), NEW),  # a warning with no open clue for its fingerprint
        Transition("claim", (NEW,), CLAIMED),  # an inspector takes it, with a lease
        Transition("expire", (CLAIMED,), NEW),  # the lease ran out: back to the queue
        Transition("dispose", (CLAIMED,), DISPOSED),  # verdict by the claim holder
    )
}

# --- severities and disposition codes ---------------------------------------------------------

SEVERITY_RANK: dict[str, int] = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
MAX_SEVERITY_RANK = max(SEVERITY_RANK.values())

# code -> outcome published in riskloop.events.Disposition (one table, used by API and store).
DISPOSITION_CODES: dict[str, str] = {
    "confirmed_violation": "confirmed",
    "rectified": "confirmed",
    "risk_confirmed_no_violation": "confirmed",
    "false_positive": "dismissed",
    "duplicate": "dismissed",
    "not_applicable": "dismissed",
}

# --- errors -----------------------------------------------------------------------------------


class ClueError(Exception):
    """Base of the store's typed errors; ``str(exc)`` is a message fit for an API reply."""


class ClueNotFound(ClueError):
    """No clue has this id."""

    def __init__(self, clue_id: str) -> None:
        super().__init__(f"no clue with id {clue_id!r}")
        self.clue_id = clue_id


class IllegalTransition(ClueError):
    """The verb is not allowed in the clue's current status or for this actor."""

    def __init__(self, message: str, status: str | None = None) -> None:
        super().__init__(message)
        self.status = status


class BadDisposition(ClueError, ValueError):
    """A disposition that cannot be recorded as given (the API answers 422)."""


class UnknownDispositionCode(BadDisposition):
    """A disposition code outside ``DISPOSITION_CODES``."""

    def __init__(self, code: str) -> None:
        super().__init__(
            f"unknown disposition code {code!r}: use one of {', '.join(DISPOSITION_CODES)}"
        )


# --- pure helpers -----------------------------------------------------------------------------


def clue_id(fingerprint: str, generation: int = 0) -> str:
    """Deterministic clue id for a fingerprint's n-th clue.

    SHA-1 rather than ``stable_id``'s SHA-256 because the upsert Lua script must compute the
    same id atomically and Redis Lua only has ``redis.sha1hex``.
    """
    digest = hashlib.sha1(f"{fingerprint}\x1f{generation}".encode(), usedforsecurity=False)
    return "clue-" + digest.hexdigest()[:20]


def check_transition(action: str, status: str) -> str:
    """Target status of ``action`` from ``status``; raises IllegalTransition if not allowed."""
    t = TRANSITIONS.get(action)
    if t is None:
        raise IllegalTransition(f"unknown action {action!r}", status)
    if status not in t.sources:
        allowed = ", ".join(t.sources) or "nothing"
        raise IllegalTransition(
            f"cannot {action} a clue that is {status} (allowed from: {allowed})", status
        )
    return t.target


def outcome_of(code: str) -> str:
    """``confirmed`` or ``dismissed`` for a disposition code."""
    try:
        return DISPOSITION_CODES[code]
    except KeyError:
        raise UnknownDispositionCode(code) from None


def severity_rank(severity: str) -> int:
    """Rank of a severity name (unknown names rank lowest, so they never lower a clue)."""
    return SEVERITY_RANK.get(severity, 0)


def iso_ms(ms: int) -> str:
    """Epoch ms -> ISO 8601 UTC, for messages.

    >>> iso_ms(1772414100000)
    '2026-03-02T01:15:00Z'
    """
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- records ----------------------------------------------------------------------------------


def _int(h: Mapping[str, str], name: str) -> int | None:
    v = h.get(name)
    return int(v) if v not in (None, "") else None


def _float(h: Mapping[str, str], name: str) -> float | None:
    v = h.get(name)
    return float(v) if v not in (None, "") else None


def _json_list(h: Mapping[str, str], name: str) -> tuple[str, ...]:
    v = h.get(name)
    return tuple(orjson.loads(v)) if v else ()


@dataclass(frozen=True, slots=True)
class Clue:
    """A clue as stored in its Redis hash. Times are epoch ms; ``*_seen_ms`` are event time."""

    id: str
    fingerprint: str
    generation: int
    status: str
    rule_id: str
    rule_version: int
    severity: str
    title: str
    key: str
    region: str
    department: str
    first_seen_ms: int
    last_seen_ms: int
    warning_count: int
    version: int
    stage: str = ""
    value: float | None = None
    summary: str = ""
    evidence: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    last_warning_id: str = ""
    previous_clue_id: str | None = None
    next_clue_id: str | None = None
    claimed_by: str | None = None
    claimed_ms: int | None = None
    lease_expires_ms: int | None = None
    disposed_by: str | None = None
    disposed_ms: int | None = None
    disposition_code: str | None = None
    outcome: str | None = None
    note: str = ""

    @classmethod
    def from_hash(cls, h: Mapping[str, str]) -> Clue:
        """Build from the decoded ``HGETALL`` of a clue hash."""
        return cls(
            id=h["id"],
            fingerprint=h["fingerprint"],
            generation=int(h["generation"]),
            status=h["status"],
            rule_id=h["rule_id"],
            rule_version=int(h.get("rule_version") or 0),
            severity=h.get("severity", ""),
            title=h.get("title", ""),
            key=h.get("key", ""),
            region=h.get("region", ""),
            department=h.get("department", ""),
            first_seen_ms=int(h["first_seen_ms"]),
            last_seen_ms=int(h["last_seen_ms"]),
            warning_count=int(h["warning_count"]),
            version=int(h["version"]),
            stage=h.get("stage", ""),
            value=_float(h, "value"),
            summary=h.get("summary", ""),
            evidence=_json_list(h, "evidence"),
            tags=_json_list(h, "tags"),
            last_warning_id=h.get("last_warning_id", ""),
            previous_clue_id=h.get("previous_clue_id") or None,
            next_clue_id=h.get("next_clue_id") or None,
            claimed_by=h.get("claimed_by") or None,
            claimed_ms=_int(h, "claimed_ms"),
            lease_expires_ms=_int(h, "lease_expires_ms"),
            disposed_by=h.get("disposed_by") or None,
            disposed_ms=_int(h, "disposed_ms"),
            disposition_code=h.get("disposition_code") or None,
            outcome=h.get("outcome") or None,
            note=h.get("note", ""),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the API's clue representation)."""
        d = {name: getattr(self, name) for name in self.__slots__}
        d["evidence"] = list(self.evidence)
        d["tags"] = list(self.tags)
        return d


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One line of a clue's audit trail: who moved it from where to where, when, and why."""

    id: str
    clue_id: str
    ts_ms: int
    actor: str
    action: str
    from_status: str
    to_status: str
    reason: str

    @classmethod
    def from_fields(cls, entry_id: str, f: Mapping[str, str]) -> AuditEntry:
        return cls(
            id=entry_id,
            clue_id=f.get("clue_id", ""),
            ts_ms=int(f.get("ts_ms") or 0),
            actor=f.get("actor", ""),
            action=f.get("action", ""),
            from_status=f.get("from", ""),
            to_status=f.get("to", ""),
            reason=f.get("reason", ""),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ts_ms": self.ts_ms,
            "actor": self.actor,
            "action": self.action,
            "from": self.from_status,
            "to": self.to_status,
            "reason": self.reason,
        }
