"""Event factories and a labelled synthetic stream for the detector tests and benchmark.

Deterministic: everything comes from ``random.Random(seed)`` and literal timestamps.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

from detectors.contract import roc_auc  # noqa: F401  (re-exported for the tests)
from detectors.features import FeatureExtractor
from envelope.events import Event

CST = timezone(timedelta(hours=8))
MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
MONDAY_0000_CST_MS = 1772380800000  # 2026-03-02T00:00:00+08:00, a Monday

FEATURE_NAMES = [
    "hour_sin",
    "hour_cos",
    "is_night",
    "is_weekend",
    "count_1h",
    "gap_log_s",
    "distinct_1h:attrs.citizen",
]


def make_event(ts_ms: int, account: str = "staff-1", citizen: str | None = "c-1") -> Event:
    """A staff data-access event at ``ts_ms`` (epoch ms), parsed like a real envelope."""
    ts = datetime.fromtimestamp(ts_ms / 1000, tz=UTC).astimezone(CST).isoformat()
    attrs = {"dataset": "population"}
    if citizen is not None:
        attrs["citizen"] = citizen
    return Event.from_dict(
        {
            "id": f"evt-{account}-{ts_ms}",
            "type": "record.read",
            "stream": "regulatory",
            "ts": ts,
            "source": "data-platform",
            "region": "330106",
            "department": "civil-affairs",
            "entity": {"kind": "staff", "id": account},
            "attrs": attrs,
        }
    )


def _workday(rng: random.Random, account: str, day_ms: int) -> list[tuple[int, str, str, int]]:
    """Office-hours reads: 09:00-18:00 local, a few minutes apart, few citizens."""
    out = []
    t = day_ms + 9 * HOUR_MS + rng.randrange(0, 30 * MINUTE_MS)
    end = day_ms + 18 * HOUR_MS
    while t < end:
        out.append((t, account, f"c-{rng.randrange(200)}", 0))
        t += int(rng.expovariate(1 / (12 * MINUTE_MS))) + 1000
    return out


def _night_burst(rng: random.Random, account: str, day_ms: int) -> list[tuple[int, str, str, int]]:
    """A night-time burst: dozens of distinct citizens read tens of seconds apart."""
    t = day_ms + rng.randrange(1 * HOUR_MS, 4 * HOUR_MS)
    out = []
    for _ in range(rng.randrange(20, 40)):
        out.append((t, account, f"c-{rng.randrange(100_000)}", 1))
        t += rng.randrange(10_000, 60_000)
    return out


def labelled_events(seed: int = 7, days: int = 7, accounts: int = 12) -> list[tuple[Event, int]]:
    """A week of office-hours activity (label 0) with night bursts (label 1) from day 3 on."""
    rng = random.Random(seed)
    rows: list[tuple[int, str, str, int]] = []
    for d in range(days):
        day_ms = MONDAY_0000_CST_MS + d * DAY_MS
        weekend = d % 7 >= 5
        for a in range(accounts):
            if not weekend or rng.random() < 0.2:
                rows += _workday(rng, f"staff-{a}", day_ms)
        if d >= 2:
            rows += _night_burst(rng, f"staff-{rng.randrange(accounts)}", day_ms)
    rows.sort()
    return [(make_event(t, acc, cit), label) for t, acc, cit, label in rows]


def labelled_features(seed: int = 7, days: int = 7) -> list[tuple[dict[str, float], int]]:
    """``labelled_events`` through a FeatureExtractor, one state per account."""
    fx = FeatureExtractor(FEATURE_NAMES)
    states: dict[str, dict] = {}
    out = []
    for ev, label in labelled_events(seed, days):
        x = fx.extract(states.setdefault(ev.entity_id, {}), ev.ts_ms, ev)
        out.append((x, label))
    return out
