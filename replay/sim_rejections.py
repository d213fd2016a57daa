"""An official who turns strict: the ``official_high_rejection`` scenario (opt-in variant).

An official with a usual load decides as many applications as ever, but for three working
days (after the first two of the period) rejects 60-75 % of them where peers reject under
10 %: the licences those approvals would have issued are never issued. The label runs from
the first such rejection to a day after the last. A rule comparing rejections with
decisions finds it; one counting rejections alone sees no more decisions than usual.

Drawn by the ``high_rejection`` variant of :func:`replay.simulator.generate`, after
everything else: it only turns decisions of the chosen officials into rejections (and drops
their licences), so every other event stays the same.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from replay.sim_core import Sim
from replay.sim_time import DAY_S

SPAN_WORKDAYS = 3
MIN_DECISIONS = 12  # in the span: an official with a usual load, not a rare decider
REJECT_SHARE = (0.60, 0.75)


Decision = tuple[int, dict[str, Any]]  # (simulator time, event)


def _decisions_by_official(sim: Sim, lo: int, hi: int) -> dict[str, list[Decision]]:
    """Official -> the decisions in ``[lo, hi)``, in time order."""
    out: dict[str, list[Decision]] = defaultdict(list)
    for t, _, event in sorted(sim.rows, key=lambda row: (row[0], row[1])):
        if lo <= t < hi and event["type"] == "application.decided":
            out[event["attrs"]["official"]].append((t, event))
    return out


def _span(sim: Sim) -> tuple[int, int] | None:
    """Three consecutive working days from the third one on, as ``(start, end)`` seconds."""
    workdays = [d for d in range(sim.clock.days) if not sim.clock.is_weekend(d)]
    if len(workdays) < 2 + SPAN_WORKDAYS:
        return None
    first = sim.rng.randrange(2, len(workdays) - SPAN_WORKDAYS + 1)
    days = workdays[first : first + SPAN_WORKDAYS]
    return days[0] * DAY_S, (days[-1] + 1) * DAY_S


def high_rejection(sim: Sim) -> None:
    """4-6 officials (one a district at most) reject most of their decisions for 3 workdays."""
    rng = sim.rng
    taken: set[str] = set()
    for region in dict.fromkeys(sim.spread_regions(sim.instances(4, 6))):
        span = _span(sim)
        if span is None:
            return
        by_official = _decisions_by_official(sim, *span)
        busy = sorted(
            o.id
            for staff in sim.city[region].officials.values()
            for o in staff
            if len(by_official.get(o.id, ())) >= MIN_DECISIONS and o.id not in taken
        )
        if not busy:
            continue
        official = rng.choice(busy)
        taken.add(official)
        share = rng.uniform(*REJECT_SHARE)
        _turn_strict(sim, region, official, by_official[official], share)


def _turn_strict(
    sim: Sim, region: str, official: str, decisions: list[Decision], share: float
) -> None:
    """Reject about ``share`` of ``decisions`` (their licences dropped) and label it."""
    turned = [
        (t, ev)
        for t, ev in decisions
        if ev["attrs"]["decision"] == "approved" and sim.rng.random() < share
    ]
    if not turned:
        return
    for _, ev in turned:
        ev["attrs"] = {**ev["attrs"], "decision": "rejected"}
    apps = {ev["attrs"]["application_id"] for _, ev in turned}
    sim.rows[:] = [
        row
        for row in sim.rows
        if not (row[2]["type"] == "license.issued" and row[2]["attrs"]["application_id"] in apps)
    ]
    rejected = sum(ev["attrs"]["decision"] == "rejected" for _, ev in decisions)
    first, last = turned[0][0], turned[-1][0]
    note = f"{rejected} of {len(decisions)} decisions rejected in {SPAN_WORKDAYS} working days"
    sim.label("official_high_rejection", official, first, last + DAY_S, region, note)
