"""The clue's states, who may move it where, the disposition codes and the store's errors.

Pure module: no Redis, no clock. ``clues.scripts`` generates its Lua tables from
``TRANSITIONS`` here, so the state machine, the roles and the holder rules are written down
once. The flow (a 12345-style work-order loop)::

    new ─dispatch─► dispatched ─claim─► claimed (in verification, a lease) ─dispose─► disposed
     │                │  ▲  ▲              │ ▲  │escalate            ▲          │submit
     │dismiss         │  │  └release/expire┘ │  ▼                   │          ▼
     ▼          return│  │dispatch  suspend/resume investigating ───┘      reviewing
    closed ◄──────────┼──┼─────────────────────────────────────────approve──┘  │reject
                      ▼  │                                                     ▼ (rework)
                 returned (2nd return: arbitration ─arbitrate─► dispatched)  claimed

``merge`` sends an unclaimed clue into another (``merged``, terminal); ``closed`` is terminal
too: a later warning opens a new clue linked to it. Actions with an empty target
(comments, evidence, labels, extensions) keep the status.

Examples:
    >>> clue_id("fp-1")
    'clue-316e2296dc2206084d37'
    >>> check_transition("claim", DISPATCHED)
    'claimed'
    >>> check_transition("dispose", NEW)
    Traceback (most recent call last):
    ...
    clues.model.IllegalTransition: cannot dispose a clue that is new (allowed from: claimed, investigating)
    >>> outcome_of("rectified"), outcome_of("false_positive")
    ('confirmed', 'dismissed')
    >>> may("dispatch", INSPECTOR), may("dispatch", SUPERVISOR)
    (False, True)
"""  # noqa: E501

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from clues.records import AuditEntry, Clue
from envelope.errors import UserError

__all__ = ["AuditEntry", "Clue"]

# --- statuses -------------------------------------------------------------------------------

NEW = "new"
DISPATCHED = "dispatched"
RETURNED = "returned"
ARBITRATION = "arbitration"
CLAIMED = "claimed"  # "in verification": an inspector holds it under a lease
SUSPENDED = "suspended"
INVESTIGATING = "investigating"
DISPOSED = "disposed"
REVIEWING = "reviewing"
CLOSED = "closed"
MERGED = "merged"
STATUSES = (
    NEW,
    DISPATCHED,
    RETURNED,
    ARBITRATION,
    CLAIMED,
    SUSPENDED,
    INVESTIGATING,
    DISPOSED,
    REVIEWING,
    CLOSED,
    MERGED,
)
STATUS_LABELS = {CLAIMED: "in verification"}
TERMINAL_STATUSES = (CLOSED, MERGED)
# A warning whose fingerprint points at a clue in one of these merges into it.
OPEN_STATUSES = tuple(s for s in STATUSES if s not in TERMINAL_STATUSES)
# The department's deadline runs in these; suspended freezes it; after disposal it stops.
CLOCKED_STATUSES = (DISPATCHED, RETURNED, ARBITRATION, CLAIMED, INVESTIGATING)
# Statuses in which the inspector named by ``claimed_by`` holds the clue ("mine").
HELD_STATUSES = (CLAIMED, SUSPENDED, INVESTIGATING, DISPOSED)
ALL = "all"

# --- roles ------------------------------------------------------------------------------------

INSPECTOR = "inspector"
LEAD = "lead"  # department lead
SUPERVISOR = "supervisor"  # dispatch centre / supervision office
ADMIN = "admin"
ROLES = (INSPECTOR, LEAD, SUPERVISOR, ADMIN)
SYSTEM = "system"  # the store itself: ingest, lease reaper, deadline ticker

_DEPT = (INSPECTOR, LEAD)
_CENTRE = (SUPERVISOR, ADMIN)
_REVIEW = (LEAD, SUPERVISOR, ADMIN)


@dataclass(frozen=True, slots=True)
class Transition:
    """One verb: legal source statuses, target ("" = unchanged) and who may do it.

    ``holder``: the caller must be the inspector holding the clue unless their role is in
    ``override``. ``renews``: a holder's action renews the claim's lease. Empty ``roles``: only
    the store itself (system) performs it.
    """

    action: str
    sources: tuple[str, ...]
    target: str
    roles: tuple[str, ...] = ()
    holder: bool = False
    override: tuple[str, ...] = (LEAD,)
    renews: bool = True


_ANY = STATUSES
_LIVE = OPEN_STATUSES
_UNCLAIMED = (NEW, DISPATCHED, RETURNED, ARBITRATION)

TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        Transition("open", (), NEW),
        Transition("dispatch", (NEW, RETURNED), DISPATCHED, _CENTRE),
        Transition("return", (DISPATCHED, CLAIMED), RETURNED, _DEPT),  # 2nd: ARBITRATION
        Transition("arbitrate", (ARBITRATION,), DISPATCHED, _CENTRE),
        Transition("claim", (DISPATCHED,), CLAIMED, _DEPT),
        Transition("release", (CLAIMED,), DISPATCHED, _DEPT, holder=True),
        Transition("expire", (CLAIMED,), DISPATCHED),
        Transition("escalate", (CLAIMED,), INVESTIGATING, _DEPT, holder=True),
        Transition("suspend", (CLAIMED,), SUSPENDED, _DEPT, holder=True),
        Transition("resume", (SUSPENDED,), CLAIMED, _DEPT, holder=True),
        Transition("request_extension", (CLAIMED, INVESTIGATING), "", _DEPT, holder=True),
        Transition("decide_extension", (CLAIMED, INVESTIGATING), "", _REVIEW),
        Transition("dispose", (CLAIMED, INVESTIGATING), DISPOSED, _DEPT, holder=True),
        Transition("submit", (DISPOSED,), REVIEWING, _DEPT, holder=True),
        Transition("approve", (REVIEWING,), CLOSED, _CENTRE),
        Transition("reject", (REVIEWING,), CLAIMED, _CENTRE),  # rework, counted
        Transition("dismiss", (NEW,), CLOSED, _CENTRE),
        Transition("merge", _UNCLAIMED, MERGED, _CENTRE),
        Transition("absorb", _LIVE, ""),  # the other side of a merge
        Transition("comment", _ANY, "", ROLES),
        Transition("label", _LIVE, "", ROLES),
        Transition("evidence", _LIVE, "", ROLES),
        Transition("reveal", _ANY, "", ROLES, holder=True, override=_REVIEW, renews=False),
        Transition("merge_warning", _LIVE, ""),  # a warning with the clue's fingerprint
        Transition("raise_priority", _LIVE, ""),  # ... of a higher severity
        Transition("recolour", CLOCKED_STATUSES, ""),
        Transition("escalate_overdue", CLOCKED_STATUSES, ""),
    )
}
USER_ACTIONS = tuple(a for a, t in TRANSITIONS.items() if t.roles)
# Actions that change nothing but the audit trail (the version stays).
READ_ACTIONS = ("reveal",)
RETURNS_BEFORE_ARBITRATION = 2
REWORK_TICKET_AFTER = 3
MAX_ESCALATION = 3

# --- codes ------------------------------------------------------------------------------------

SEVERITY_RANK: dict[str, int] = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
MAX_SEVERITY_RANK = max(SEVERITY_RANK.values())
MAX_PRIORITY = MAX_SEVERITY_RANK + 1  # a repeat of a closed clue can outrank "critical"
REPEAT_WINDOW_MS = 90 * 86_400_000  # event time since the previous clue's last warning

# code -> outcome published in envelope.events.Disposition (one table, used by API and store).
DISPOSITION_CODES: dict[str, str] = {
    "confirmed_violation": "confirmed",
    "rectified": "confirmed",
    "risk_confirmed_no_violation": "confirmed",
    "false_positive": "dismissed",
    "duplicate": "dismissed",
    "not_applicable": "dismissed",
}
EVIDENCE_REQUIRED = tuple(c for c, o in DISPOSITION_CODES.items() if o == "confirmed")
FALSE_POSITIVE_REASONS = (
    "data_quality",
    "rule_too_sensitive",
    "expected_behaviour",
    "already_handled",
)
DISMISS_CODES = ("duplicate", "not_applicable", "false_positive")
RETURN_REASONS = ("wrong_region", "wrong_function", "incomplete_information", "duplicate")
SUSPEND_REASONS = (
    "awaiting_test",
    "awaiting_external_assistance",
    "awaiting_party",
    "force_majeure",
)
COLOURS = ("green", "blue", "yellow", "red")

# --- errors -----------------------------------------------------------------------------------


class ClueError(UserError):
    """Base of the store's typed errors; ``str(exc)`` is a message fit for an API reply."""


class ClueNotFound(ClueError):
    """No clue has this id."""

    def __init__(self, clue_id: str) -> None:
        super().__init__(f"no clue with id {clue_id!r}")
        self.clue_id = clue_id


class IllegalTransition(ClueError):
    """The verb is not allowed in the clue's current status (or the clue changed meanwhile)."""

    def __init__(self, message: str, status: str | None = None) -> None:
        super().__init__(message)
        self.status = status


class Conflict(IllegalTransition):
    """The clue's version is not the one the caller expected (HTTP 409 / If-Match)."""


class Forbidden(ClueError):
    """The caller's role or scope (departments, regions) does not allow this (HTTP 403)."""


class BadDisposition(ClueError, ValueError):
    """A request that cannot be recorded as given (the API answers 422)."""


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


CLUE_ID_PATTERN = r"^clue-[0-9a-f]{20}$"
_CLUE_ID = re.compile(CLUE_ID_PATTERN)


def is_clue_id(value: str) -> bool:
    """Whether ``value`` has the shape of a clue id (``clue-`` and 20 hex digits).

    Checked before an id reaches Redis: an id like ``clue-…:audit`` would name another key.
    """
    return bool(_CLUE_ID.match(value))


def check_transition(action: str, status: str) -> str:
    """Status after ``action`` from ``status``; raises IllegalTransition if not allowed."""
    t = TRANSITIONS.get(action)
    if t is None:
        raise IllegalTransition(f"unknown action {action!r}", status)
    if status not in t.sources:
        allowed = ", ".join(t.sources) or "nothing"
        raise IllegalTransition(
            f"cannot {action} a clue that is {status} (allowed from: {allowed})", status
        )
    return t.target or status


def may(action: str, role: str) -> bool:
    """Whether ``role`` may perform ``action`` at all (scope and holder rules aside)."""
    t = TRANSITIONS.get(action)
    return t is not None and role in t.roles


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
