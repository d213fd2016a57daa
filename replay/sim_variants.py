"""Realistic background variants of the simulated city: what a rule must not call a risk.

- **Festival** (:func:`festival_rise`): on one day (a rest day when the period has one,
  never the first day) the whole city's 12345 hotline rises: from 10:00 to 22:00 every
  district and every category gets ``FESTIVAL_EXTRA`` times its usual load on top, beyond the
  background's hourly cap. A surge rule that compares a district with itself fires in most
  districts that day; one that compares a district's share of the city's tickets does not.
  Never labelled: it is background.
- **Batch account** (:func:`batch_account`): one account of the city's data-sharing platform
  reads 150-300 distinct citizens between 01:00 and 04:00 every night, always; heavy, and
  normal for itself. Never labelled.

Both are drawn after everything else, so the rest of the city is the same event for event
with or without them.
"""

from __future__ import annotations

from replay.sim_background import HOTLINE_PER_HOUR, HOTLINE_PROFILE, emit_ticket, read_records
from replay.sim_city import HOTLINE_CATEGORIES, Staff
from replay.sim_core import Sim
from replay.sim_time import DAY_S, HOUR_S, poisson

FESTIVAL_EXTRA = 2.0  # extra load, in multiples of the usual one, on the festival's hours
FESTIVAL_HOURS = range(10, 22)
BATCH_ACCOUNT = "stf-batch-city"


def festival_day(sim: Sim) -> int | None:
    """The day of the festival: a rest day after the first day, else any day after it."""
    days = range(1, sim.clock.days)
    rest = [d for d in days if sim.clock.is_weekend(d)]
    return sim.rng.choice(rest or list(days)) if days else None


def festival_rise(sim: Sim) -> int | None:
    """The festival's extra tickets, city-wide; returns its day (None: a one-day period)."""
    day = festival_day(sim)
    if day is None:
        return None
    rng = sim.rng
    for district in sim.city.values():
        for category, (_, share) in HOTLINE_CATEGORIES.items():
            base = HOTLINE_PER_HOUR * district.weight * share * sim.scale * FESTIVAL_EXTRA
            for hour in FESTIVAL_HOURS:
                start = day * DAY_S + hour * HOUR_S
                n = poisson(rng, base * HOTLINE_PROFILE[hour])
                for t in sorted(rng.randrange(start, start + HOUR_S) for _ in range(n)):
                    emit_ticket(sim, district, category, t)
    return day


def batch_account(sim: Sim) -> None:
    """The city's nightly batch: 150-300 distinct citizens of one district, 01:00-04:00."""
    rng = sim.rng
    region = sorted(sim.city)[0]
    district = sim.city[region]
    staff = Staff(BATCH_ACCOUNT, region, "civil-affairs", False, ("household",))
    for day in range(sim.clock.days):
        start = day * DAY_S + HOUR_S
        citizens = rng.sample(district.citizens, rng.randint(150, 300))
        times = sorted(rng.randrange(start, start + 3 * HOUR_S) for _ in citizens)
        read_records(sim, staff, times, citizens)
