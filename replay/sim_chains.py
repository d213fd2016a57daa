""" "One thing at a time" chains: one package of applications that passes from department to
department, each stage under its own time limit and the whole under a total one, both in
working days (China's statutory calendar, as ``approval-overdue`` counts them).

Background chains finish each stage in office hours within half its time limit and hand
over within two hours, so a whole chain ends well before four fifths of its total. Two
scenarios:

| scenario | label key | label span |
| --- | --- | --- |
| chain_stage_overdue | "chain_id|stage" | stage started .. its deadline + 1 day |
| chain_overdue | chain_id | chain started .. its total deadline + 1 day |

- a stage left overdue in one department (done at 1.3-2.5 times its limit, or never),
  the other stages quick;
- every stage within its own limit, but each hand-over waits a working day: the chain as a
  whole runs past its total.

Labels are given by what happened, whichever generator made the chain: a stage not done by
its deadline, a chain not completed by four fifths of its total (``chain-overdue``'s first
stage); one whose deadline lies after the data is not labelled.
"""

from __future__ import annotations

from dataclasses import dataclass

from replay.sim_core import Sim
from replay.sim_time import DAY_S, HOUR_S, MIN_S, WORK_INTERVALS_S, arrivals

CHAINS_PER_HOUR = 0.4  # chains started per weekday office hour per district (scale 1)
DUE_SOON = 0.8  # the share of the total at which chain-overdue warns first
QUICK = 0.5  # a stage done by this share of its limit is done in office hours


@dataclass(frozen=True, slots=True)
class Chain:
    """A package: who applies, the total limit and (stage, department, limit) in order."""

    name: str
    applicant_kind: str
    total_days: int
    stages: tuple[tuple[str, str, int], ...]


CHAINS = (
    Chain(
        "open-a-restaurant",
        "enterprise",
        5,
        (
            ("business-registration", "market-supervision", 1),
            ("fire-safety-check", "public-security", 1),
            ("environmental-filing", "ecology-environment", 2),
            ("signboard-permit", "urban-management", 1),
        ),
    ),
    Chain(
        "newborn",
        "citizen",
        3,
        (
            ("birth-certificate", "health", 1),
            ("household-registration", "public-security", 1),
            ("medical-insurance", "human-resources", 1),
        ),
    ),
    Chain(
        "retirement",
        "citizen",
        5,
        (
            ("pension-approval", "human-resources", 2),
            ("provident-fund-withdrawal", "housing", 2),
            ("elderly-card", "civil-affairs", 1),
        ),
    ),
)


def _emit(sim: Sim, t: int, etype: str, region: str, dept: str, who: tuple, attrs: dict) -> None:
    sim.emit(t, etype, region, dept, who, attrs, source="one-thing-platform")


def _done_at(sim: Sim, t: int, days: int, share: float) -> int:
    """When a stage begun at ``t`` is done, at ``share`` of its ``days``: up to half of them,
    in the office hours before that share; else at it, moved into office hours if that
    keeps it on the same side of its deadline."""
    if share <= QUICK:
        hi = sim.clock.workday_share(t, days, share)
        quick = sim.clock.sample_working(sim.rng, t + 10 * MIN_S, hi)
        return quick or sim.clock.next_working(t + 10 * MIN_S) + sim.rng.randint(0, HOUR_S)
    raw = sim.clock.workday_share(t, days, share)
    moved = sim.clock.next_working(raw) + sim.rng.randint(0, 30 * MIN_S)
    deadline = sim.clock.add_workdays(t, days)
    return moved if (moved > deadline) == (raw > deadline) else raw


def run_chain(
    sim: Sim, region: str, chain: Chain, t0: int, shares: list[float | None], waits: list[int]
) -> None:
    """One chain from ``t0``: stage ``i`` is done at ``shares[i]`` of its limit (None:
    never) and begins ``waits[i]`` working days (0: minutes) after the previous one."""
    district = sim.city[region]
    pool = district.citizens if chain.applicant_kind == "citizen" else district.enterprises
    who = (chain.applicant_kind, sim.rng.choice(pool))
    chain_id = sim.serial("C", region)
    names = [s for s, _, _ in chain.stages]
    head = {"chain_id": chain_id, "chain": chain.name}
    started = {**head, "total_days": chain.total_days, "stages": names}
    _emit(sim, t0, "service_chain.started", region, chain.stages[0][1], who, started)
    t: int | None = t0
    for (stage, dept, days), share, wait in zip(chain.stages, shares, waits, strict=True):
        assert t is not None
        if t != t0:
            t = sim.clock.add_workdays(t, wait) if wait else t + sim.rng.randint(5, 120) * MIN_S
        attrs = {**head, "stage": stage, "stage_days": days}
        _emit(sim, t, "service_chain.stage_started", region, dept, who, attrs)
        deadline = sim.clock.add_workdays(t, days)
        done = None if share is None else _done_at(sim, t, days, share)
        if (done is None or done > deadline) and deadline < sim.end_s:
            late = "never done" if done is None else f"done at {sim.clock.iso(done)}"
            note = f"{chain.name}: {stage} ({dept}, {days} working days) {late}"
            sim.label(
                "chain_stage_overdue", f"{chain_id}|{stage}", t, deadline + DAY_S, region, note
            )
        if done is None:
            t = None
            break
        _emit(
            sim, done, "service_chain.stage_completed", region, dept, who, {**head, "stage": stage}
        )
        t = done
    if t is not None:
        t += sim.rng.randint(1, 10) * MIN_S
        _emit(sim, t, "service_chain.completed", region, chain.stages[-1][1], who, head)
    _label_chain(sim, region, chain, chain_id, t0, t)


def _label_chain(
    sim: Sim, region: str, chain: Chain, chain_id: str, t0: int, end: int | None
) -> None:
    due_soon = sim.clock.workday_share(t0, chain.total_days, DUE_SOON)
    deadline = sim.clock.add_workdays(t0, chain.total_days)
    if due_soon < sim.end_s and (end is None or end > due_soon):
        how = "never completed" if end is None else f"completed at {sim.clock.iso(end)}"
        note = f"{chain.name} ({chain.total_days} working days in all) {how}"
        sim.label("chain_overdue", chain_id, t0, deadline + DAY_S, region, note)


def background_chains(sim: Sim) -> None:
    """Chains begun in weekday office hours, every stage quick (see the module)."""
    rng = sim.rng
    for day in range(sim.clock.days):
        if sim.clock.is_weekend(day):
            continue
        for region, district in sim.city.items():
            rate = CHAINS_PER_HOUR * district.weight * sim.scale
            for a, b in WORK_INTERVALS_S:
                for t in arrivals(rng, day * DAY_S + a, day * DAY_S + b, rate):
                    chain = rng.choice(CHAINS)
                    n = len(chain.stages)
                    run_chain(sim, region, chain, t, [rng.uniform(0.05, 0.5)] * n, [0] * n)


def _fits(sim: Sim, days: int) -> bool:
    """Whether ``days`` working days begun in office hours can end inside the data."""
    latest = sim.clock.latest_start(days, sim.end_s - 2 * HOUR_S)
    return latest is not None and latest > 9 * HOUR_S


def _start(sim: Sim, days: int) -> int | None:
    """An office-hours start whose ``days`` working days end inside the data, or None."""
    if not _fits(sim, days):
        return None
    latest = sim.clock.latest_start(days, sim.end_s - 2 * HOUR_S) or 0
    return sim.clock.sample_working(sim.rng, 9 * HOUR_S, latest)


def _days_to(chain: Chain, stage: int) -> int:
    """Working days of the stages up to and including ``stage``."""
    return sum(days for _, _, days in chain.stages[: stage + 1])


def inject_chain_stage_overdue(sim: Sim) -> None:
    """One stage left overdue in its department; the other stages quick."""
    rng = sim.rng
    for region in sim.spread_regions(sim.instances(4, 6)):
        late_of = {c.name: rng.randrange(len(c.stages)) for c in CHAINS}
        fits = [c for c in CHAINS if _fits(sim, _days_to(c, late_of[c.name]))]
        if not fits:
            return
        chain = rng.choice(fits)
        n, late = len(chain.stages), late_of[chain.name]
        t0 = _start(sim, _days_to(chain, late))
        if t0 is None:
            continue
        shares: list[float | None] = [rng.uniform(0.05, 0.3) for _ in range(n)]
        shares[late] = None if rng.random() < 0.3 else rng.uniform(1.3, 2.5)
        run_chain(sim, region, chain, t0, shares, [0] * n)


def inject_chain_overdue(sim: Sim) -> None:
    """Every stage within its limit, every hand-over a working day late."""
    rng = sim.rng
    for region in sim.spread_regions(sim.instances(3, 5)):
        fits = [c for c in CHAINS if _fits(sim, c.total_days)]
        if not fits:
            return
        chain = rng.choice(fits)
        t0 = _start(sim, chain.total_days)
        if t0 is None:
            continue
        n = len(chain.stages)
        shares: list[float | None] = [rng.uniform(0.5, 0.9) for _ in range(n)]
        run_chain(sim, region, chain, t0, shares, [1] * n)
