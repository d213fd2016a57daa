"""Injected risk scenarios, each instance recorded as a label (the ground truth of a backtest).

| scenario | label key | label span |
| --- | --- | --- |
| approval_overdue | application_id | accepted .. deadline + 1 day |
| repeated_submissions | "applicant|item" | first .. last submission + 1 day |
| hotline_surge | "region|category" | first .. last extra ticket + 1 hour |
| staff_bulk_access | account | first .. last burst read + 1 hour |
| approver_anomaly | official | first .. last night decision + 1 hour |

A scenario that does not fit in a short period (an overdue deadline needs at least 3
working days, up to 5 calendar days over a weekend, plus 2 hours of data after acceptance;
a night approval run needs a day before it) is skipped.
"""

from __future__ import annotations

from replay.sim_apps import (
    App,
    accept,
    acceptance_time,
    decide,
    normal_application,
    pick_applicant,
    pick_official,
    submit,
)
from replay.sim_background import emit_ticket, read_records
from replay.sim_city import HOTLINE_CATEGORIES, ITEMS, Item
from replay.sim_core import Sim
from replay.sim_time import DAY_S, HOUR_S, MIN_S

OVERDUE_MARGIN_S = 2 * HOUR_S  # every injected deadline lies this far before the end of data


def _application(
    sim: Sim, region: str, item: Item, t_accept: int, official_id: str | None = None
) -> App | None:
    """A fresh applicant's application, submitted shortly before ``t_accept`` and accepted then."""
    applicant = pick_applicant(sim, region, item)
    if applicant is None:
        return None
    t_submit = max(0, t_accept - sim.rng.randint(5 * MIN_S, 2 * HOUR_S))
    at_hall = sim.clock.is_working(t_submit) and sim.rng.random() < 0.5
    app = submit(sim, region, item, applicant, t_submit, "window" if at_hall else "online")
    officials = sim.city[region].officials[item.department]
    official = next((o for o in officials if o.id == official_id), None) or sim.rng.choice(
        officials
    )
    return accept(sim, app, t_accept, official)


def inject_approval_overdue(sim: Sim) -> None:
    """Accepted applications never decided, or decided only after their deadline."""
    rng = sim.rng
    latest = {  # the latest acceptance whose deadline still lies inside the data
        it.name: sim.clock.latest_start(it.deadline_days, sim.end_s - OVERDUE_MARGIN_S)
        for it in ITEMS
    }
    for region in sim.spread_regions(sim.instances(8, 12)):
        items = [it for it in ITEMS if (latest[it.name] or 0) > 9 * HOUR_S]
        if not items:
            return
        item = rng.choice(items)
        t_accept = sim.clock.sample_working(rng, HOUR_S * 9, latest[item.name] or 0)
        app = None if t_accept is None else _application(sim, region, item, t_accept)
        if app is None:
            continue
        note = f"{item.name} accepted by {app.official}, deadline {item.deadline_days} working days"
        late = sim.clock.next_working(app.deadline_s + rng.randint(HOUR_S, 20 * HOUR_S))
        if rng.random() < 0.4 and decide_if_inside(sim, app, late):
            note += f", decided late at {sim.clock.iso(late)}"
        else:
            note += ", never decided"
        sim.label(
            "approval_overdue", app.app_id, app.accepted_s, app.deadline_s + DAY_S, region, note
        )


def decide_if_inside(sim: Sim, app: App, t: int) -> bool:
    """Decide ``app`` at ``t`` (approved) if ``t`` is inside the data."""
    if t >= sim.end_s:
        return False
    decide(sim, app, t, "approved")
    return True


def rejected_submission(
    sim: Sim, region: str, item: Item, applicant: str, t: int, channel: str
) -> None:
    """One submission at ``t`` in ``region``, accepted and rejected within a working day."""
    app = submit(sim, region, item, applicant, t, channel)
    app = accept(sim, app, acceptance_time(sim, t), pick_official(sim, region, item.department))
    verdict = sim.clock.sample_working(sim.rng, app.accepted_s + 10 * MIN_S, app.accepted_s + DAY_S)
    decide(sim, app, verdict or app.accepted_s + 30 * MIN_S, "rejected")


def inject_repeated_submissions(sim: Sim) -> None:
    """One applicant submits the same item 5-8 times within 1-3 days."""
    rng = sim.rng
    for region in sim.spread_regions(sim.instances(6, 10)):
        item = rng.choice(ITEMS)
        applicant = pick_applicant(sim, region, item)
        span = rng.randint(1, 3) * DAY_S
        first = sim.clock.sample_working(rng, 0, sim.end_s - span - DAY_S)
        if applicant is None or first is None:
            continue
        count = rng.randint(5, 8)
        later = [sim.clock.sample_working(rng, first + 1, first + span) for _ in range(count - 1)]
        times = sorted([first] + [t for t in later if t is not None])
        for t in times[:-1]:
            channel = "window" if rng.random() < 0.7 else "online"
            rejected_submission(sim, region, item, applicant, t, channel)
        normal_application(sim, region, item, applicant, times[-1], "window", resubmit=False)
        note = f"{len(times)} submissions of {item.name} in {span // DAY_S} day(s)"
        sim.label(
            "repeated_submissions",
            f"{applicant}|{item.name}",
            times[0],
            times[-1] + DAY_S,
            region,
            note,
        )


def inject_hotline_surge(sim: Sim) -> None:
    """One district+category gets 40-80 extra tickets within 1-3 hours."""
    rng = sim.rng
    categories = list(HOTLINE_CATEGORIES)
    used: set[tuple[str, str]] = set()
    for region in sim.spread_regions(sim.instances(4, 6)):
        category = rng.choice([c for c in categories if (region, c) not in used])
        used.add((region, category))
        duration = rng.randint(HOUR_S, 3 * HOUR_S)
        day = rng.randrange(sim.clock.days)
        start = day * DAY_S + rng.randint(8 * HOUR_S, 21 * HOUR_S - duration)
        count = rng.randint(40, 80)
        district = sim.city[region]
        callers = rng.sample(district.citizens, count)
        times = sorted(rng.randrange(start, start + duration) for _ in range(count))
        for t, who in zip(times, callers, strict=True):
            emit_ticket(sim, district, category, t, who)
        note = f"{count} extra {category} tickets in {duration // MIN_S} min"
        sim.label(
            "hotline_surge", f"{region}|{category}", times[0], times[-1] + HOUR_S, region, note
        )


def inject_staff_bulk_access(sim: Sim) -> None:
    """One account reads 150-300 distinct citizens within 1-2 hours (office hours or evening)."""
    rng = sim.rng
    taken: set[str] = set()
    for region in sim.spread_regions(sim.instances(4, 6)):
        staff = rng.choice([s for s in sim.city[region].readers if s.id not in taken])
        taken.add(staff.id)
        duration = rng.randint(HOUR_S, 2 * HOUR_S)
        day = rng.randrange(sim.clock.days)
        earliest = 9 * HOUR_S if rng.random() < 0.6 else 18 * HOUR_S
        start = day * DAY_S + rng.randint(earliest, earliest + 4 * HOUR_S)
        count = rng.randint(150, 300)
        citizens = rng.sample(sim.city[region].citizens, count)
        reads = citizens + [rng.choice(citizens) for _ in range(count // 10)]
        rng.shuffle(reads)
        times = sorted(rng.randrange(start, start + duration) for _ in reads)
        read_records(sim, staff, times, reads)
        note = f"{count} distinct citizens read in {duration // MIN_S} min"
        sim.label("staff_bulk_access", staff.id, times[0], times[-1] + HOUR_S, region, note)


def _night_for(sim: Sim) -> int | None:
    """A day index whose 01:00-04:00 follows a weekday with office hours, or None.

    Never before day 3: the simulated city starts with no application pending, so decisions
    only begin on day 1, and "unlike the usual" needs a usual first.
    """
    nights = [d for d in range(3, sim.clock.days) if not sim.clock.is_weekend(d - 1)]
    return sim.rng.choice(nights) if nights else None


def inject_approver_anomaly(sim: Sim) -> None:
    """An official decides 20-40 applications (accepted in office hours) between 01:00 and 04:00."""
    rng = sim.rng
    taken: set[str] = set()
    for region in sim.spread_regions(sim.instances(3, 5)):
        night = _night_for(sim)
        if night is None:
            return
        department = rng.choice(sorted({it.department for it in ITEMS}))
        official = rng.choice(
            [o for o in sim.city[region].officials[department] if o.id not in taken]
        )
        taken.add(official.id)
        items = [it for it in ITEMS if it.department == department]
        count = rng.randint(20, 40)
        start = night * DAY_S + HOUR_S
        moments = sorted(rng.randrange(start, start + 3 * HOUR_S) for _ in range(count))
        decided = []
        for t in moments:
            t_accept = sim.clock.sample_working(rng, max(0, (night - 2) * DAY_S), night * DAY_S)
            app = (
                None
                if t_accept is None
                else _application(sim, region, rng.choice(items), t_accept, official.id)
            )
            if app is not None:
                decide(sim, app, t, "approved" if rng.random() < 0.9 else "rejected")
                decided.append(t)
        if decided:
            note = (
                f"{len(decided)} decisions between 01:00 and 04:00 on {sim.clock.iso(start)[:10]}"
            )
            sim.label(
                "approver_anomaly", official.id, decided[0], decided[-1] + HOUR_S, region, note
            )


SCENARIOS = (
    inject_approval_overdue,
    inject_repeated_submissions,
    inject_hotline_surge,
    inject_staff_bulk_access,
    inject_approver_anomaly,
)
