"""Behaviour scenarios: activity unlike a key's own usual pattern, with no line a rule could
name to cross; what the ``anomaly`` rules are for.

| scenario | caught by | label key | label span |
| --- | --- | --- | --- |
| approver_late_evening | approver-off-hours-anomaly | official | first .. last decision + 1 h |
| approver_rest_day | approver-off-hours-, approver-rest-day-anomaly | official | as above |
| approver_high_rate | approver-rate-anomaly | official | first .. last extra decision + 1 h |
| staff_steady_reading | staff-access-anomaly, staff-reading-* | account | first .. last read + 1h |
| staff_half_day_reading | staff-access-anomaly, staff-reading-* | account | as above |

- An official decides 3-6 applications between 22:00 and 23:30 on a working day: a normal
  rate at an hour nobody decides.
- An official decides 5-10 applications between 13:00 and 17:00 on a rest day.
- An official with at least 5 decisions a usual working day decides three times that many
  in one working day's office hours.
- A staff account reads 25-40 distinct citizens every hour from 09:00 to 17:00: each hour
  stays under the bulk-access rule's 60, the day is far above any case worker's.
- A staff account reads 45-55 distinct citizens every hour for 5 hours from 09:00 or 12:00:
  still under 60 an hour, and some 250 in half a working day.

A scenario with no day of its kind among the scored days is left out. Beside them, never
labelled, each district has a nightly batch account that reads 150-300 distinct citizens
between 01:00 and 04:00 every night: always heavy, normal for itself.

:func:`generate_behaviour` simulates ``seed_days`` of history (a deployment's replay seed)
and then ``days`` with the scenarios; :func:`evaluate` runs the shipped anomaly rules on it
(learning from the history first) and scores each scenario by the rule meant for it.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Any

from envelope.events import RiskWarning
from replay.backtest import backtest
from replay.formats import write_events
from replay.score import Score, score
from replay.sim_apps import accept, background_applications, decide, pick_applicant, submit
from replay.sim_background import background_data_access, read_records
from replay.sim_city import ITEMS, Staff
from replay.sim_core import Sim
from replay.sim_time import DAY_S, HOUR_S, MIN_S

LIBRARY = Path(__file__).resolve().parents[1] / "rules" / "library"
# The behaviour scenarios each anomaly rule is meant for (its own tags name the rule-like
# scenarios of the main simulator); a scenario is found by any rule meant for it.
APPROVALS = ("approver_late_evening", "approver_rest_day", "approver_high_rate")
READING = ("staff_steady_reading", "staff_half_day_reading")
MEANT_FOR = {
    "approver-off-hours-anomaly": APPROVALS,
    "approver-rate-anomaly": ("approver_high_rate",),
    "approver-rest-day-anomaly": ("approver_rest_day",),
    "staff-access-anomaly": READING,
    "staff-reading-hour": READING,
    "staff-reading-day": READING,
}
INSTANCES = 8  # of each scenario, over the scored days
# Days simulated after the scored ones and dropped: the background decides every application
# inside the simulated period, which crowds its last days with decisions.
TAIL_DAYS = 7
BUSY = 5.0  # decisions a usual working day of an official whose rate triples


class _Picker:
    """Officials and readers for the instances, none used twice."""

    def __init__(self, sim: Sim) -> None:
        self.sim, self.taken = sim, set[str]()

    def official(self, region: str, busy: float = 0.0) -> Staff:
        """An official of ``region``, with at least ``busy`` decisions a usual working day."""
        officials = [
            o
            for staff in self.sim.city[region].officials.values()
            for o in staff
            if o.id not in self.taken
        ]
        if busy:
            rates = {o.id: _usual_per_day(self.sim, o) for o in officials}
            officials = [o for o in officials if rates[o.id] >= busy] or [
                max(officials, key=lambda o: rates[o.id])
            ]
        pick = self.sim.rng.choice(officials)
        self.taken.add(pick.id)
        return pick

    def reader(self, region: str) -> Staff:
        readers = [s for s in self.sim.city[region].readers if s.id not in self.taken]
        pick = self.sim.rng.choice(readers)
        self.taken.add(pick.id)
        return pick


def _decisions(sim: Sim, official: Staff, moments: list[int], day: int) -> list[int]:
    """Decide one fresh application (accepted in the day or two before) at each moment."""
    items = [it for it in ITEMS if it.department == official.department]
    done = []
    for t in moments:
        t_accept = sim.clock.sample_working(sim.rng, max(0, (day - 2) * DAY_S), t - HOUR_S)
        item = sim.rng.choice(items)
        applicant = pick_applicant(sim, official.region, item)
        if t_accept is None or applicant is None:
            continue
        t_submit = max(0, t_accept - sim.rng.randint(5 * MIN_S, 2 * HOUR_S))
        app = submit(sim, official.region, item, applicant, t_submit, "online")
        decide(sim, accept(sim, app, t_accept, official), t, "approved")
        done.append(t)
    return done


def _days(sim: Sim, first: int, weekend: bool) -> list[int]:
    last = sim.clock.days - TAIL_DAYS
    return [d for d in range(first, last) if sim.clock.is_weekend(d) == weekend]


def _label(sim: Sim, scenario: str, staff: Staff, times: list[int], note: str) -> None:
    if times:
        sim.label(scenario, staff.id, times[0], times[-1] + HOUR_S, staff.region, note)


def inject_late_evening(sim: Sim, pick: _Picker, first_day: int) -> None:
    """3-6 decisions between 22:00 and 23:30 of a working day."""
    days = _days(sim, first_day, weekend=False)
    for region in sim.spread_regions(INSTANCES) if days else ():
        day = sim.rng.choice(days)
        official = pick.official(region)
        start = day * DAY_S + 22 * HOUR_S
        moments = sorted(sim.rng.randrange(start, start + 90 * MIN_S) for _ in range(6))
        done = _decisions(sim, official, moments[: sim.rng.randint(3, 6)], day)
        _label(sim, "approver_late_evening", official, done, f"{len(done)} decisions after 22:00")


def inject_rest_day(sim: Sim, pick: _Picker, first_day: int) -> None:
    """5-10 decisions between 13:00 and 17:00 of a rest day."""
    days = _days(sim, first_day, weekend=True)
    for region in sim.spread_regions(INSTANCES) if days else ():
        day = sim.rng.choice(days)
        official = pick.official(region)
        start = day * DAY_S + 13 * HOUR_S
        count = sim.rng.randint(5, 10)
        moments = sorted(sim.rng.randrange(start, start + 4 * HOUR_S) for _ in range(count))
        done = _decisions(sim, official, moments, day)
        _label(sim, "approver_rest_day", official, done, f"{len(done)} decisions on a rest day")


def _usual_per_day(sim: Sim, official: Staff) -> float:
    """The official's decisions per working day so far in the simulation."""
    decided = sum(
        1
        for _, _, ev in sim.rows
        if ev["type"] == "application.decided" and ev["attrs"].get("official") == official.id
    )
    working = max(1, len(_days(sim, 0, weekend=False)))
    return decided / working


def inject_high_rate(sim: Sim, pick: _Picker, first_day: int) -> None:
    """Twice the official's usual day's decisions on top of it, in one day's office hours;
    an official with at least ``BUSY`` decisions a usual working day (below that, three
    times a handful is within an ordinary day's chance)."""
    days = _days(sim, first_day, weekend=False)
    for region in sim.spread_regions(INSTANCES) if days else ():
        day = sim.rng.choice(days)
        official = pick.official(region, busy=BUSY)
        extra = round(2 * _usual_per_day(sim, official))
        a, b = day * DAY_S, (day + 1) * DAY_S
        moments = sorted(sim.clock.sample_working(sim.rng, a, b) or a for _ in range(extra))
        done = _decisions(sim, official, moments, day)
        _label(sim, "approver_high_rate", official, done, f"{len(done)} extra decisions in a day")


def inject_steady_reading(sim: Sim, pick: _Picker, first_day: int) -> None:
    """25-40 distinct citizens an hour, every hour from 09:00 to 17:00 of a working day."""
    rng = sim.rng
    days = _days(sim, first_day, weekend=False)
    for region in sim.spread_regions(INSTANCES) if days else ():
        day = rng.choice(days)
        staff = pick.reader(region)
        times: list[int] = []
        for hour in range(9, 17):
            start = day * DAY_S + hour * HOUR_S
            citizens = rng.sample(sim.city[region].citizens, rng.randint(25, 40))
            reads = citizens + [rng.choice(citizens) for _ in range(len(citizens) // 5)]
            moments = sorted(rng.randrange(start, start + HOUR_S) for _ in reads)
            read_records(sim, staff, moments, reads)
            times += moments
        _label(sim, "staff_steady_reading", staff, times, "25-40 distinct citizens an hour, 8 h")


def inject_half_day_reading(sim: Sim, pick: _Picker, first_day: int) -> None:
    """45-55 distinct citizens an hour, every hour for 5 hours from 09:00 or 12:00 of a
    working day."""
    rng = sim.rng
    days = _days(sim, first_day, weekend=False)
    for region in sim.spread_regions(INSTANCES) if days else ():
        day = rng.choice(days)
        staff = pick.reader(region)
        first = rng.choice((9, 12))
        times: list[int] = []
        for hour in range(first, first + 5):
            start = day * DAY_S + hour * HOUR_S
            citizens = rng.sample(sim.city[region].citizens, rng.randint(45, 55))
            reads = citizens + [rng.choice(citizens) for _ in range(len(citizens) // 5)]
            moments = sorted(rng.randrange(start, start + HOUR_S) for _ in reads)
            read_records(sim, staff, moments, reads)
            times += moments
        _label(sim, "staff_half_day_reading", staff, times, "45-55 distinct citizens an hour, 5 h")


def nightly_batches(sim: Sim) -> None:
    """A batch account per district reading 150-300 distinct citizens 01:00-04:00 nightly."""
    rng = sim.rng
    for region, district in sim.city.items():
        batch = Staff(f"stf-batch-{region}", region, "civil-affairs", False, ("household",))
        for day in range(sim.clock.days):
            start = day * DAY_S + HOUR_S
            citizens = rng.sample(district.citizens, rng.randint(150, 300))
            times = sorted(rng.randrange(start, start + 3 * HOUR_S) for _ in citizens)
            read_records(sim, batch, times, citizens)


def generate_behaviour(
    seed: int, days: int = 14, seed_days: int = 14, start: str = "2026-03-02"
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """(history, events, labels): ``seed_days`` of background from ``start``, then ``days``
    of background with :data:`INSTANCES` instances of each behaviour scenario."""
    sim = Sim(seed, seed_days + days + TAIL_DAYS, start, 1.0)
    background_applications(sim)
    background_data_access(sim)
    nightly_batches(sim)
    pick = _Picker(sim)
    for inject in (inject_late_evening, inject_rest_day, inject_high_rate, inject_steady_reading):
        inject(sim, pick, seed_days)
    inject_half_day_reading(sim, pick, seed_days)  # drawn last: the others stay as they were
    sim.rows.sort(key=lambda row: (row[0], row[1]))
    cut, end = seed_days * DAY_S, (seed_days + days) * DAY_S
    history = [ev for t, _, ev in sim.rows if t < cut]
    events = [ev for t, _, ev in sim.rows if cut <= t < end]
    return history, events, [label for _, label in sorted(sim.labels, key=lambda r: r[0])]


def backtest_behaviour(
    history: list[dict[str, Any]],
    events: list[dict[str, Any]],
    rules_dir: Path = LIBRARY,
    partitions: int = 4,
) -> list[RiskWarning]:
    """The warnings of the rules of :data:`MEANT_FOR` found in ``rules_dir`` on
    ``events`` on ``partitions`` partitions (a deployment's default), the rules first seeded
    with ``history``; each warning tagged with the scenarios its rule is meant for."""
    with tempfile.TemporaryDirectory() as tmp:
        rules = Path(tmp) / "rules"
        rules.mkdir()
        for rule in MEANT_FOR:
            if (rules_dir / f"{rule}.yaml").exists():  # an older library may lack some
                (rules / f"{rule}.yaml").write_text((rules_dir / f"{rule}.yaml").read_text())
        write_events(history, Path(tmp) / "history.jsonl")
        write_events(events, Path(tmp) / "events.jsonl")
        report = backtest(
            Path(tmp) / "events.jsonl",
            rules,
            seed_path=Path(tmp) / "history.jsonl",
            partitions=partitions,
        )
    return [
        dataclasses.replace(w, tags=tuple(f"scenario:{s}" for s in MEANT_FOR[w.rule_id]))
        for w in report.warnings
    ]


def run_rules(
    seed: int, rules_dir: Path = LIBRARY, **kwargs: Any
) -> tuple[list[RiskWarning], list[dict[str, Any]]]:
    """(warnings, labels) of :func:`backtest_behaviour` on :func:`generate_behaviour`
    ``(seed, **kwargs)``."""
    history, events, labels = generate_behaviour(seed, **kwargs)
    return backtest_behaviour(history, events, rules_dir), labels


def evaluate(seed: int, rules_dir: Path = LIBRARY, **kwargs: Any) -> dict[str, Score]:
    """Recall and precision per behaviour scenario (see :func:`run_rules`)."""
    return score(*run_rules(seed, rules_dir, **kwargs))
