"""Factories for clue tests: warnings at literal event times."""

from __future__ import annotations

from typing import Any

from riskloop.events import RiskWarning

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
