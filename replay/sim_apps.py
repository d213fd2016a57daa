"""Applications for government services: submitted -> accepted -> decided (-> licence issued).

Normal applications are accepted in office hours and decided in office hours strictly before
their statutory deadline (at 15-85 % of its working days). About 8 % are rejected; some of those are
resubmitted once, so a normal applicant submits one item at most twice in the period.
The deadline is the acceptance time plus ``deadline_days`` working days (China's statutory
calendar: weekends and public holidays do not count, make-up working days do), at the
same clock time.
"""

from __future__ import annotations

from dataclasses import dataclass

from replay.sim_city import ITEM_WEIGHTS, ITEMS, Item, Staff
from replay.sim_core import Sim
from replay.sim_time import DAY_S, HOUR_S, MIN_S, WORK_INTERVALS_S, arrivals

# Applications per office hour per district (weekday, scale 1, district weight 1).
APPS_PER_HOUR = 10.0
# Online submissions per hour per district outside office hours.
NIGHT_APPS_PER_HOUR = 0.25
REJECT_RATE = 0.08
RESUBMIT_RATE = 0.4


@dataclass(frozen=True, slots=True)
class App:
    """One application in flight."""

    app_id: str
    region: str
    item: Item
    applicant: str
    official: str = ""
    accepted_s: int = 0
    deadline_s: int = 0  # accepted_s plus deadline_days working days

    def attrs(self) -> dict[str, object]:
        return {"application_id": self.app_id, "item": self.item.name, "applicant": self.applicant}


def pick_applicant(sim: Sim, region: str, item: Item) -> str | None:
    """An applicant of the item's kind in ``region`` who has not applied for the item yet."""
    district = sim.city[region]
    pool = district.citizens if item.applicant_kind == "citizen" else district.enterprises
    for _ in range(30):
        who = sim.rng.choice(pool)
        if sim.submissions[(who, item.name)] == 0:
            return who
    return None


def pick_official(sim: Sim, region: str, department: str) -> Staff:
    """One of the district's officials in ``department``."""
    return sim.rng.choice(sim.city[region].officials[department])


def submit(sim: Sim, region: str, item: Item, applicant: str, t: int, channel: str) -> App:
    """Emit ``application.submitted`` and count the submission."""
    app = App(sim.serial("A", region), region, item, applicant)
    sim.submissions[(applicant, item.name)] += 1
    attrs = {**app.attrs(), "channel": channel}
    source = "provincial-portal" if channel == "online" else "service-hall"
    sim.emit(
        t,
        "application.submitted",
        region,
        item.department,
        (item.applicant_kind, applicant),
        attrs,
        source=source,
    )
    return app


def accept(sim: Sim, app: App, t: int, official: Staff) -> App:
    """Emit ``application.accepted``; returns the app with its official and acceptance time."""
    deadline = sim.clock.add_workdays(t, app.item.deadline_days)
    app = App(app.app_id, app.region, app.item, app.applicant, official.id, t, deadline)
    attrs = {**app.attrs(), "official": official.id, "deadline_days": app.item.deadline_days}
    sim.emit(
        t,
        "application.accepted",
        app.region,
        app.item.department,
        (app.item.applicant_kind, app.applicant),
        attrs,
    )
    return app


def decide(sim: Sim, app: App, t: int, decision: str) -> None:
    """Emit ``application.decided`` (and ``license.issued`` for an approved licence)."""
    attrs = {**app.attrs(), "official": app.official, "decision": decision}
    entity = (app.item.applicant_kind, app.applicant)
    sim.emit(t, "application.decided", app.region, app.item.department, entity, attrs)
    if decision == "approved" and app.item.license:
        issued = t + sim.rng.randint(10 * MIN_S, 2 * HOUR_S)
        lic = {
            "license_id": sim.serial("L", app.region),
            "item": app.item.name,
            "application_id": app.app_id,
        }
        sim.emit(
            issued,
            "license.issued",
            app.region,
            app.item.department,
            entity,
            lic,
            stream="regulatory",
        )


def acceptance_time(sim: Sim, t_submit: int) -> int:
    """Acceptance: 5-90 min later in the same office slot, else in the next weekday slot."""
    t = t_submit + sim.rng.randint(5 * MIN_S, 90 * MIN_S)
    if sim.clock.is_working(t_submit) and sim.clock.is_working(t):
        return t
    return sim.clock.next_working(t) + sim.rng.randint(0, 60 * MIN_S)


def normal_decision_time(sim: Sim, app: App) -> int | None:
    """An office-hours instant at 15-85 % of the time limit's working days, inside the data;
    None if none is left."""
    days = app.item.deadline_days
    lo = sim.clock.workday_share(app.accepted_s, days, 0.15)
    hi = min(sim.clock.workday_share(app.accepted_s, days, 0.85), sim.end_s - HOUR_S)
    if hi <= lo:
        return None
    return sim.clock.sample_working(sim.rng, lo, hi)


def normal_application(
    sim: Sim,
    region: str,
    item: Item,
    applicant: str,
    t: int,
    channel: str,
    *,
    resubmit: bool = True,
) -> None:
    """One application's normal life, possibly resubmitted once after a rejection."""
    app = submit(sim, region, item, applicant, t, channel)
    app = accept(sim, app, acceptance_time(sim, t), pick_official(sim, region, item.department))
    decided = normal_decision_time(sim, app)
    if decided is None:
        return  # still pending when the data ends; its deadline lies beyond the end
    rejected = sim.rng.random() < REJECT_RATE
    decide(sim, app, decided, "rejected" if rejected else "approved")
    if rejected and resubmit and sim.rng.random() < RESUBMIT_RATE:
        again = sim.clock.sample_working(sim.rng, decided + 2 * HOUR_S, decided + 3 * DAY_S)
        if again is not None and again < sim.end_s - DAY_S:
            normal_application(sim, region, item, applicant, again, "window", resubmit=False)


def _submissions_at(sim: Sim, region: str, times: list[int], channel: str | None) -> None:
    for t in times:
        item = sim.rng.choices(ITEMS, ITEM_WEIGHTS)[0]
        applicant = pick_applicant(sim, region, item)
        if applicant is None:
            continue
        how = channel or ("online" if sim.rng.random() < 0.6 else "window")
        normal_application(sim, region, item, applicant, t, how)


def background_applications(sim: Sim) -> None:
    """Poisson arrivals of normal applications: office hours (weekends ~10 %) and a few at night."""
    clock = sim.clock
    for day in range(clock.days):
        factor = 0.1 if clock.is_weekend(day) else 1.0
        for region, district in sim.city.items():
            rate = APPS_PER_HOUR * district.weight * sim.scale
            base = day * DAY_S
            for a, b in WORK_INTERVALS_S:
                _submissions_at(
                    sim, region, arrivals(sim.rng, base + a, base + b, rate * factor), None
                )
            night_rate = NIGHT_APPS_PER_HOUR * district.weight * sim.scale
            for a, b in ((0, 8 * HOUR_S), (18 * HOUR_S, DAY_S)):
                _submissions_at(
                    sim, region, arrivals(sim.rng, base + a, base + b, night_rate), "online"
                )
