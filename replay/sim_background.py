"""Background realism: 12345 hotline tickets, staff data access and regulatory events.

Limits the scenarios rely on (checked by the tests):
- hotline tickets per district+category stay at most ``HOTLINE_CAP_PER_HOUR`` per clock hour,
  so any sliding hour holds fewer than 10;
- a staff account reads at most ``READ_DISTINCT_CAP`` distinct citizens per clock hour, so any
  sliding hour holds fewer than 40.
"""

from __future__ import annotations

from replay.sim_city import HOTLINE_CATEGORIES, PURPOSES, District, Staff
from replay.sim_core import Sim
from replay.sim_time import DAY_S, HOUR_S, WORK_INTERVALS_S, arrivals, poisson

# Hotline tickets per hour per district at profile weight 1 (scale 1, district weight 1).
HOTLINE_PER_HOUR = 7.0
HOTLINE_CAP_PER_HOUR = 4
# Relative hotline load by hour of day: 07-23 with an evening peak, a trickle at night.
HOTLINE_PROFILE = (
    0.05, 0.03, 0.02, 0.02, 0.02, 0.04, 0.1, 0.5, 0.8, 1.0, 1.0, 1.0,
    0.8, 0.8, 0.9, 0.9, 0.9, 1.0, 1.1, 1.4, 1.5, 1.3, 0.8, 0.25,
)  # fmt: skip
HOTLINE_WEEKEND = 0.8
CHANNELS = (("phone", 0.55), ("app", 0.3), ("web", 0.15))
READS_MIN, READS_MODE, READS_MAX = 5, 12, 30
READ_DISTINCT_CAP = 16
NIGHT_DUTY_RATE = 0.02
INSPECTIONS_PER_HOUR = 1.2
FINDING_RATE = 0.25
RECTIFY_WORKDAYS = 5  # the time limit of a finding (inspection-not-rectified)
FILINGS_PER_HOUR = 1.6


def emit_ticket(
    sim: Sim, district: District, category: str, t: int, citizen: str | None = None
) -> None:
    """Emit one ``hotline.ticket`` from a citizen of ``district``."""
    rng = sim.rng
    channel = rng.choices([c for c, _ in CHANNELS], [w for _, w in CHANNELS])[0]
    who = citizen or rng.choice(district.citizens)
    attrs = {
        "ticket_id": sim.serial("T", district.region),
        "category": category,
        "channel": channel,
    }
    sim.emit(
        t,
        "hotline.ticket",
        district.region,
        HOTLINE_CATEGORIES[category][0],
        ("citizen", who),
        attrs,
    )


def background_hotline(sim: Sim) -> None:
    """Poisson tickets per district, category and hour, capped per clock hour."""
    rng = sim.rng
    for day in range(sim.clock.days):
        factor = HOTLINE_WEEKEND if sim.clock.is_weekend(day) else 1.0
        for district in sim.city.values():
            for category, (_, share) in HOTLINE_CATEGORIES.items():
                base = HOTLINE_PER_HOUR * district.weight * share * factor * sim.scale
                for hour, weight in enumerate(HOTLINE_PROFILE):
                    n = min(poisson(rng, base * weight), HOTLINE_CAP_PER_HOUR)
                    start = day * DAY_S + hour * HOUR_S
                    for t in sorted(rng.randrange(start, start + HOUR_S) for _ in range(n)):
                        emit_ticket(sim, district, category, t)


def read_records(sim: Sim, staff: Staff, times: list[int], citizens: list[str]) -> None:
    """Emit ``data.access`` by ``staff`` at ``times``, reading ``citizens`` in order."""
    rng = sim.rng
    for t, citizen in zip(times, citizens, strict=True):
        attrs = {
            "account": staff.id,
            "citizen": citizen,
            "dataset": rng.choice(staff.datasets),
            "purpose": rng.choice(PURPOSES),
        }
        sim.emit(t, "data.access", staff.region, staff.department, ("staff", staff.id), attrs)


def _reading_hour(sim: Sim, staff: Staff, district: District, a: int, b: int, n: int) -> None:
    """``n`` reads in [a, b) over a small case list, with repeats."""
    rng = sim.rng
    distinct = min(READ_DISTINCT_CAP, n, max(2, round(n * rng.uniform(0.3, 0.65))))
    cases = rng.sample(district.citizens, distinct)
    reads = cases + [rng.choice(cases) for _ in range(n - distinct)]
    rng.shuffle(reads)
    read_records(sim, staff, sorted(rng.randrange(a, b) for _ in range(n)), reads)


def background_data_access(sim: Sim) -> None:
    """Staff read 5-30 records in an active office hour; public security has a night duty."""
    rng = sim.rng
    clock = sim.clock
    for day in range(clock.days):
        factor = 0.1 if clock.is_weekend(day) else 1.0
        for district in sim.city.values():
            for staff in district.readers:
                for hour in range(24):
                    slot = clock.hour_coverage(day, hour)
                    if slot is not None:
                        a, b = slot
                        share = (b - a) / HOUR_S
                        if rng.random() < staff.activity * factor * share:
                            n = round(
                                rng.triangular(READS_MIN, READS_MAX, READS_MODE) * max(share, 0.5)
                            )
                            _reading_hour(sim, staff, district, a, b, n)
                    elif staff.department == "public-security" and rng.random() < NIGHT_DUTY_RATE:
                        start = day * DAY_S + hour * HOUR_S
                        _reading_hour(
                            sim, staff, district, start, start + HOUR_S, rng.randint(1, 4)
                        )


def _inspection(sim: Sim, district: District, t: int) -> None:
    """One inspection of an enterprise; a finding is usually rectified days later."""
    rng = sim.rng
    inspector = rng.choice(district.inspectors)
    enterprise = rng.choice(district.enterprises)
    inspection_id = sim.serial("I", district.region)
    result = "finding" if rng.random() < FINDING_RATE else "pass"
    attrs = {"inspection_id": inspection_id, "result": result, "inspector": inspector.id}
    entity = ("enterprise", enterprise)
    sim.emit(
        t,
        "inspection.performed",
        district.region,
        inspector.department,
        entity,
        attrs,
        stream="regulatory",
    )
    if result != "finding":
        return
    fixed = sim.clock.sample_working(rng, t + DAY_S, t + 6 * DAY_S) if rng.random() < 0.75 else None
    label_unrectified(sim, district.region, inspection_id, t, fixed)
    if fixed is not None:
        fix = {"inspection_id": inspection_id, "inspector": inspector.id}
        sim.emit(
            fixed,
            "inspection.rectified",
            district.region,
            inspector.department,
            entity,
            fix,
            stream="regulatory",
        )


def label_unrectified(sim: Sim, region: str, inspection_id: str, t: int, fixed: int | None) -> None:
    """Ground truth for inspection-not-rectified: a finding with no rectification by four
    fifths of its 5 working days (the rule's first stage), up to its deadline; one whose
    first stage falls after the data ends is not labelled (nothing can judge it)."""
    due_soon = sim.clock.workday_share(t, RECTIFY_WORKDAYS, 0.8)
    if due_soon < sim.end_s and (fixed is None or fixed > due_soon):
        end = sim.clock.add_workdays(t, RECTIFY_WORKDAYS)
        note = "never rectified" if fixed is None else f"rectified at {sim.clock.iso(fixed)}"
        sim.label("inspection_not_rectified", inspection_id, t, end, region, note)


def background_regulatory(sim: Sim) -> None:
    """Inspections in weekday office hours and annual-report filings (each enterprise once)."""
    rng = sim.rng
    filed: set[str] = set()
    for day in range(sim.clock.days):
        weekend = sim.clock.is_weekend(day)
        base = day * DAY_S
        for district in sim.city.values():
            if not weekend:
                rate = INSPECTIONS_PER_HOUR * sim.scale
                for a, b in WORK_INTERVALS_S:
                    for t in arrivals(rng, base + a, base + b, rate):
                        _inspection(sim, district, t)
            rate = FILINGS_PER_HOUR * district.weight * sim.scale * (0.5 if weekend else 1.0)
            for t in arrivals(rng, base + 8 * HOUR_S, base + 22 * HOUR_S, rate):
                _filing(sim, district, t, filed)


def _filing(sim: Sim, district: District, t: int, filed: set[str]) -> None:
    """One annual report by an enterprise that has not filed yet (gives up after 10 tries)."""
    for _ in range(10):
        enterprise = sim.rng.choice(district.enterprises)
        if enterprise not in filed:
            filed.add(enterprise)
            attrs = {
                "filing_id": sim.serial("F", district.region),
                "report": "annual-report",
                "year": 2025,
            }
            sim.emit(
                t,
                "filing.submitted",
                district.region,
                "market-supervision",
                ("enterprise", enterprise),
                attrs,
                stream="regulatory",
            )
            return
