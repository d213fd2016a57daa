"""Cross-district scenarios: risks whose key meets events from more than one district.

| scenario | caught by | label key | label span |
| --- | --- | --- | --- |
| cross_district_resubmissions | repeated-submissions | "applicant|item" | first .. last + 1 d |
| shared_bank_account | shell-company-shared-bank-account | account | first .. last + 1 d |
| shared_address | shell-company-shared-address | normalised address | first .. last + 1 d |
| dereg_after_finding | dereg-after-finding | enterprise | finding .. dereg + 1 d |

- A citizen submits one item 4-6 times within 1-2 days, alternately at the halls of two
  districts: each hall sees at most 3, under the rule's 4.
- 5-6 enterprises of four districts report one settlement account within 4 days, each to its
  own district's office (a new registration or an account change): each district sees one
  or two.
- 5-7 new enterprises register at one address within 5 days at the offices of three
  districts, the address typed as people type it (with or without province and city,
  full-width digits, spaces): each district sees two or three, and only the normalised
  address is one key (``replay.sim_shell``).
- An inspector of one district records a finding at an enterprise registered in another,
  which applies there to deregister hours to days later, the finding never rectified. A near
  miss beside it (unlabelled): the finding rectified in the inspecting district first.

The districts of an instance are region codes that a producer keying by region puts on
different partitions of the default layout (``PRODUCER_PARTITIONS``): an engine fed by the
producer's partitions sees one district's share of the key alone; a rule sees the whole key
only where events are re-keyed by its own key. Every label carries ``regions``, all the
districts involved, its ``region`` being the first of them.
"""

from __future__ import annotations

from envelope.partitioning import partition_for
from replay.sim_apps import normal_application, pick_applicant
from replay.sim_background import label_unrectified
from replay.sim_city import ITEMS
from replay.sim_core import Sim
from replay.sim_registry import (
    deregister,
    inspected,
    new_account,
    quiet_enterprises,
    register,
    report_account,
)
from replay.sim_scenarios import rejected_submission
from replay.sim_shell import inject_shared_address
from replay.sim_time import DAY_S, HOUR_S

PRODUCER_PARTITIONS = 4  # RISKLOOP_PARTITIONS' default


def split_regions(sim: Sim, n: int) -> list[str]:
    """``n`` districts whose region codes hash to ``n`` different producer partitions.

    >>> sim = Sim(seed=1, days=1, start="2026-03-02", scale=0.2)
    >>> halls = split_regions(sim, 4)
    >>> sorted(partition_for(r.encode(), PRODUCER_PARTITIONS) for r in halls)
    [0, 1, 2, 3]
    >>> split_regions(sim, 5)
    Traceback (most recent call last):
    ...
    ValueError: only 4 producer partitions hold districts, asked 5
    """
    groups: dict[int, list[str]] = {}
    for region in sim.city:
        groups.setdefault(partition_for(region.encode(), PRODUCER_PARTITIONS), []).append(region)
    if n > len(groups):
        raise ValueError(f"only {len(groups)} producer partitions hold districts, asked {n}")
    chosen = sim.rng.sample(sorted(groups), n)
    return [sim.rng.choice(groups[p]) for p in chosen]


def inject_cross_district_resubmissions(sim: Sim) -> None:
    """One citizen submits one item 4-6 times in 1-2 days at two districts' halls in turn."""
    rng = sim.rng
    items = [it for it in ITEMS if it.applicant_kind == "citizen"]
    for _ in range(sim.instances(4, 6)):
        halls = split_regions(sim, 2)
        item = rng.choice(items)
        applicant = pick_applicant(sim, halls[0], item)
        span = rng.randint(1, 2) * DAY_S
        first = sim.clock.sample_working(rng, 0, sim.end_s - span - DAY_S)
        if applicant is None or first is None:
            continue
        later = [sim.clock.sample_working(rng, first + 1, first + span) for _ in range(5)]
        times = sorted([first] + [t for t in later if t is not None][: rng.randint(3, 5)])
        where = [halls[i % 2] for i in range(len(times))]
        for t, hall in zip(times[:-1], where[:-1], strict=True):
            rejected_submission(sim, hall, item, applicant, t, "window")
        normal_application(sim, where[-1], item, applicant, times[-1], "window", resubmit=False)
        note = (
            f"{len(times)} submissions of {item.name} in {span // DAY_S} day(s) at the halls of "
            f"{halls[0]} ({where.count(halls[0])}) and {halls[1]} ({where.count(halls[1])})"
        )
        key = f"{applicant}|{item.name}"
        _label(sim, "cross_district_resubmissions", key, times[0], times[-1] + DAY_S, halls, note)


def inject_shared_bank_account(sim: Sim) -> None:
    """5-6 enterprises of four districts report one settlement account within 4 days."""
    rng = sim.rng
    history = inspected(sim)
    for _ in range(sim.instances(3, 5)):
        regions = split_regions(sim, 4)
        first = sim.clock.sample_working(rng, 0, sim.end_s - DAY_S)
        if first is None:
            continue
        offices = [regions[i % 4] for i in range(rng.randint(5, 6))]
        later = [
            sim.clock.sample_working(rng, first + 1, min(first + 4 * DAY_S, sim.end_s))
            for _ in offices[1:]
        ]
        times = sorted([first] + [t or first for t in later])
        account = new_account(sim)
        how = []
        for region, t in zip(offices, times, strict=True):
            if rng.random() < 0.5:
                register(sim, region, t, account)
                how.append("registered")
            else:
                enterprise = rng.choice(quiet_enterprises(sim, region, history))
                report_account(sim, region, enterprise, t, account)
                how.append("changed to it")
        note = f"{len(offices)} enterprises of 4 districts report one account ({', '.join(how)})"
        _label(sim, "shared_bank_account", account, times[0], times[-1] + DAY_S, regions, note)


def inject_dereg_after_finding(sim: Sim) -> None:
    """A finding in one district, the enterprise's deregistration in its own; and a near miss."""
    rng = sim.rng
    history = inspected(sim)
    for i in range(sim.instances(5, 7)):
        home, inspecting = split_regions(sim, 2)
        t_find = sim.clock.sample_working(rng, 0, sim.end_s - DAY_S)
        if t_find is None:
            continue
        t_dereg = sim.clock.sample_working(rng, t_find + 2 * HOUR_S, sim.end_s)
        if t_dereg is None:
            continue
        enterprise = rng.choice(quiet_enterprises(sim, home, history))
        inspection = _finding(sim, inspecting, enterprise, t_find)
        if i % 3 == 2:  # the near miss: rectified before the deregistration, no label
            t_fix = rng.randrange(t_find + HOUR_S, t_dereg)
            _rectified(sim, inspecting, enterprise, t_fix, inspection)
            label_unrectified(sim, inspecting, inspection[0], t_find, t_fix)
            deregister(sim, home, enterprise, t_dereg)
            continue
        label_unrectified(sim, inspecting, inspection[0], t_find, None)
        deregister(sim, home, enterprise, t_dereg)
        note = f"finding {inspection[0]} in {inspecting}, deregistration applied in {home}"
        regions = [inspecting, home]
        _label(sim, "dereg_after_finding", enterprise, t_find, t_dereg + DAY_S, regions, note)


def _finding(sim: Sim, region: str, enterprise: str, t: int) -> tuple[str, str, str]:
    """An inspector of ``region`` records a finding at ``enterprise``: (id, inspector, dept)."""
    inspector = sim.rng.choice(sim.city[region].inspectors)
    inspection_id = sim.serial("I", region)
    attrs = {"inspection_id": inspection_id, "result": "finding", "inspector": inspector.id}
    entity = ("enterprise", enterprise)
    sim.emit(
        t, "inspection.performed", region, inspector.department, entity, attrs, stream="regulatory"
    )
    return inspection_id, inspector.id, inspector.department


def _rectified(
    sim: Sim, region: str, enterprise: str, t: int, inspection: tuple[str, str, str]
) -> None:
    inspection_id, inspector, department = inspection
    attrs = {"inspection_id": inspection_id, "inspector": inspector}
    entity = ("enterprise", enterprise)
    sim.emit(t, "inspection.rectified", region, department, entity, attrs, stream="regulatory")


def _label(
    sim: Sim, scenario: str, key: str, start: int, end: int, regions: list[str], note: str
) -> None:
    sim.label(scenario, key, start, end, regions[0], note, regions)


CROSS_DISTRICT_SCENARIOS = (
    inject_cross_district_resubmissions,
    inject_shared_bank_account,
    inject_dereg_after_finding,
    inject_shared_address,
)
