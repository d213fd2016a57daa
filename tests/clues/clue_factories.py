"""Factories for clue tests: warnings at literal event times."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from clues.access import Principal
from clues.model import Clue
from clues.store import ClueStore
from envelope.events import RiskWarning

T0 = 1_772_414_100_000  # 2026-03-02T01:15:00Z


def make_warning(
    wid: str, fingerprint: str = "fp-1", ts_ms: int = T0, **overrides: Any
) -> RiskWarning:
    """A pseudonymised warning of rule ``approval.overdue`` at a literal event time."""
    fields: dict[str, Any] = {
        "id": wid,
        "fingerprint": fingerprint,
        "rule_id": "approval.overdue",
        "rule_version": 2,
        "logic_hash": "lh-1",
        "severity": "medium",
        "title": "approval overdue",
        "key": "region=330106|applicant=ph-7f3a",
        "ts_ms": ts_ms,
        "region": "330106",
        "department": "market-supervision",
        "value": 1.0,
        "evidence": (f"evt-{wid}",),
    }
    fields.update(overrides)
    return RiskWarning(**fields)


# --- callers and a shortcut through the flow ---------------------------------------------------

DEPT = "market-supervision"
CENTRE = Principal("sam", "supervisor")  # the dispatch centre, every department and region
ALICE = Principal("alice", "inspector", (DEPT,), ("3301",))
BOB = Principal("bob", "inspector", (DEPT,), ("3301",))
LEAD = Principal("lena", "lead", (DEPT,), None)
OUTSIDER = Principal("olga", "inspector", ("housing",), None)
ADMIN = Principal("root", "admin")
EVIDENCE = [{"uri": "https://files.example/site/photo-1.jpg", "name": "photo"}]
VERDICT_ARGS: dict[str, dict[str, Any]] = {
    "confirmed_violation": {"evidence_refs": EVIDENCE},
    "rectified": {"evidence_refs": EVIDENCE},
    "risk_confirmed_no_violation": {"evidence_refs": EVIDENCE},
    "false_positive": {"sub_reason": "data_quality"},
}


async def dispose_clue(
    store: ClueStore, cid: str, code: str, now_ms: int = T0, who: Principal = ALICE
) -> Clue:
    """Dispatch (as the centre), claim and dispose of a clue (as ``who``)."""
    await store.transition(cid, "dispatch", CENTRE, now_ms)
    await store.transition(cid, "claim", who, now_ms + 1)
    args = {"code": code, **VERDICT_ARGS.get(code, {})}
    return await store.transition(cid, "dispose", who, now_ms + 2, args)


@dataclass
class LiveApi:
    """A running ``riskloop api`` (the ``live_api`` fixture) and the Redis it uses."""

    url: str
    redis_url: str

    def store(self, client: aioredis.Redis) -> ClueStore:
        return ClueStore(client)
