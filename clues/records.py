"""The clue and audit records as read back from Redis (plain, frozen data; no Redis here).

Every hash field is a string in Redis; ``Clue.from_hash`` converts by the declared type, so
adding a field is one line. Times are epoch ms; ``*_seen_ms`` are event time, the others the
queue's own (wall) clock.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

import orjson


def _opt_int(v: str) -> int | None:
    return int(v) if v != "" else None


def _opt_float(v: str) -> float | None:
    return float(v) if v != "" else None


def _opt_str(v: str) -> str | None:
    return v or None


def _json(default: Any) -> Callable[[str], Any]:
    def conv(v: str) -> Any:
        if not v:
            return default
        out = orjson.loads(v)
        return tuple(out) if isinstance(out, list) else out

    return conv


_CONVERT: dict[str, Callable[[str], Any]] = {
    "str": str,
    "bool": lambda v: v == "1",
    "int": lambda v: int(v or 0),
    "int | None": _opt_int,
    "float | None": _opt_float,
    "str | None": _opt_str,
    "tuple[str, ...]": _json(()),
    "tuple[dict[str, Any], ...]": _json(()),
    "dict[str, Any] | None": lambda v: dict(orjson.loads(v)) if v else None,
}


@dataclass(frozen=True, slots=True)
class Clue:
    """A clue as stored in its Redis hash (``rl:clue:{id}``)."""

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
    priority: int = 0
    stage: str = ""
    value: float | None = None
    summary: str = ""
    evidence: tuple[str, ...] = ()  # ids of the events behind the latest warning
    tags: tuple[str, ...] = ()  # from the rule
    labels: tuple[str, ...] = ()  # from people
    evidence_refs: tuple[dict[str, Any], ...] = ()  # attachments by reference
    details: dict[str, Any] | None = None
    last_warning_id: str = ""
    previous_clue_id: str | None = None
    next_clue_id: str | None = None
    repeat_of: str | None = None
    updated_ms: int | None = None
    # dispatch and deadline (snapshotted at the first dispatch)
    dispatched_ms: int | None = None
    dispatched_by: str | None = None
    sign_due_ms: int | None = None
    due_ms: int | None = None
    original_due_ms: int | None = None
    sla: dict[str, Any] | None = None
    # a deadline counted across days no calendar data covered (Monday-Friday guessed)
    deadline_estimated: bool = False
    colour: str | None = None
    red_since_ms: int | None = None
    escalation_level: int = 0
    ticket_id: str | None = None
    paused_ms: int = 0
    suspended_ms: int | None = None
    suspend_reason: str | None = None
    extension_count: int = 0
    ext_days: int | None = None
    ext_new_due_ms: int | None = None
    ext_reason: str | None = None
    # returns and arbitration
    return_count: int = 0
    last_return_reason: str | None = None
    arbitrated: int = 0
    # the claim
    claimed_by: str | None = None
    claimed_ms: int | None = None
    first_claimed_ms: int | None = None
    lease_ms: int | None = None
    lease_expires_ms: int | None = None
    lease_expired_count: int = 0
    # verification result and review
    case_ref: str | None = None
    disposed_by: str | None = None
    disposed_ms: int | None = None
    disposition_code: str | None = None
    sub_reason: str | None = None
    outcome: str | None = None
    note: str = ""
    rework_count: int = 0
    closed_ms: int | None = None
    closed_by: str | None = None
    merged_into: str | None = None
    merged_from: tuple[str, ...] = ()

    @classmethod
    def from_hash(cls, h: Mapping[str, str]) -> Clue:
        """Build from the decoded ``HGETALL`` of a clue hash (unknown fields are ignored)."""
        values: dict[str, Any] = {}
        for name, convert in _converters():
            raw = h.get(name)
            if raw is not None:
                values[name] = convert(raw)
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the API's clue representation)."""
        d = {name: getattr(self, name) for name in self.__slots__}
        for name in ("evidence", "tags", "labels", "evidence_refs", "merged_from"):
            d[name] = list(d[name])
        return d


@functools.cache
def _converters() -> tuple[tuple[str, Callable[[str], Any]], ...]:
    return tuple((f.name, _CONVERT[str(f.type)]) for f in fields(Clue))


def _json_obj(v: str) -> dict[str, Any]:
    return dict(orjson.loads(v)) if v else {}


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One line of a clue's audit trail: who did what, when, why, and what it changed.

    ``before`` / ``after`` hold the state fields the step changed ("" = absent), so replaying
    the ``after`` of every entry in order rebuilds the clue's tracked state.
    """

    id: str
    clue_id: str
    ts_ms: int
    actor: str
    action: str
    from_status: str
    to_status: str
    reason: str
    role: str = ""
    version: int = 0
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None

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
            role=f.get("role", ""),
            version=int(f.get("version") or 0),
            before=_json_obj(f.get("before", "")),
            after=_json_obj(f.get("after", "")),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ts_ms": self.ts_ms,
            "actor": self.actor,
            "role": self.role,
            "action": self.action,
            "from": self.from_status,
            "to": self.to_status,
            "reason": self.reason,
            "version": self.version,
            "before": self.before or {},
            "after": self.after or {},
        }
