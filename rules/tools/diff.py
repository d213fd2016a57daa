"""Compare the warnings of two rule versions over the same events: new, lost, unchanged.

Warnings pair by their dedup key: rule id + group key + stage + episode (the warning's
event time: the window end of a threshold, the deadline of an obligation). A rule may
carry its own ``dedup_key`` on its warnings; then that is used. With ``tolerance_ms``,
leftovers of the same rule, key and stage whose times differ by at most that much pair
too (a threshold lowered from 15 to 14 fires the same surge a little earlier).

Examples:
    >>> from envelope.events import RiskWarning
    >>> def w(key, ts_ms):
    ...     return RiskWarning(id=f"{key}{ts_ms}", fingerprint="f", rule_id="r", rule_version=1,
    ...         logic_hash="h", severity="high", title="t", key=key, ts_ms=ts_ms, region="x",
    ...         department="d")
    >>> d = diff_warnings([w("a", 1), w("b", 2), w("c", 50)], [w("a", 1), w("c", 40), w("z", 9)])
    >>> [x.key for x in d.new], [x.key for x in d.lost], len(d.unchanged)
    (['b', 'c'], ['z', 'c'], 1)
    >>> d = diff_warnings([w("c", 50)], [w("c", 40)], tolerance_ms=10)
    >>> len(d.new), len(d.lost), [(a.ts_ms, b.ts_ms) for a, b in d.unchanged]
    (0, 0, [(50, 40)])
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from envelope.events import RiskWarning
from envelope.time import iso


def dedup_key(w: RiskWarning) -> str:
    """``rule|key|stage|episode`` (or the warning's own ``dedup_key`` when it has one)."""
    own = getattr(w, "details", {}).get("dedup_key") or getattr(w, "dedup_key", None)
    if own:
        return str(own)
    return f"{w.rule_id}|{w.key}|{w.stage}|{iso(w.ts_ms)}"


@dataclass
class WarningDiff:
    """``unchanged`` holds ``(candidate, baseline)`` pairs; ``moved`` counts those whose
    times differ (paired by the tolerance)."""

    new: list[RiskWarning] = field(default_factory=list)
    lost: list[RiskWarning] = field(default_factory=list)
    unchanged: list[tuple[RiskWarning, RiskWarning]] = field(default_factory=list)

    @property
    def moved(self) -> int:
        return sum(a.ts_ms != b.ts_ms for a, b in self.unchanged)


def diff_warnings(
    candidate: Sequence[RiskWarning], baseline: Sequence[RiskWarning], tolerance_ms: int = 0
) -> WarningDiff:
    """What ``candidate`` raises that ``baseline`` does not (new), the reverse (lost), and both."""
    out = WarningDiff()
    waiting: dict[str, list[RiskWarning]] = defaultdict(list)
    for b in baseline:
        waiting[dedup_key(b)].append(b)
    for a in candidate:
        same = waiting.get(dedup_key(a))
        if same:
            out.unchanged.append((a, same.pop(0)))
        else:
            out.new.append(a)
    out.lost = [b for items in waiting.values() for b in items]
    if tolerance_ms > 0:
        _pair_near(out, tolerance_ms)
    out.new.sort(key=lambda w: (w.ts_ms, w.rule_id, w.key))
    out.lost.sort(key=lambda w: (w.ts_ms, w.rule_id, w.key))
    return out


def _pair_near(out: WarningDiff, tolerance_ms: int) -> None:
    """Pair leftover new and lost warnings of one rule, key and stage within the tolerance."""
    lost_by: dict[tuple[str, str, str], list[RiskWarning]] = defaultdict(list)
    for b in sorted(out.lost, key=lambda w: w.ts_ms):
        lost_by[(b.rule_id, b.key, b.stage)].append(b)
    still_new = []
    for a in sorted(out.new, key=lambda w: w.ts_ms):
        pool = lost_by.get((a.rule_id, a.key, a.stage), [])
        near = min(pool, key=lambda b: abs(b.ts_ms - a.ts_ms), default=None)
        if near is not None and abs(near.ts_ms - a.ts_ms) <= tolerance_ms:
            pool.remove(near)
            out.unchanged.append((a, near))
        else:
            still_new.append(a)
    out.new = still_new
    out.lost = [b for pool in lost_by.values() for b in pool]
