"""Data-sharing feeds as they really deliver: office hours on working days, some empty batches.

The city's data-sharing platform receives batches (``data.feed_delivered``, ``attrs.rows``
the number of records) from the bureaus' feeds. Each feed of :data:`FEEDS` delivers every
15-35 minutes on working days between 08:00 and 20:00 (China's calendar, as the
``data-feed-silent`` rule counts them) and never at night, on weekends or holidays; one
batch in :data:`EMPTY_SHARE` carries no rows (nothing changed upstream), which is no outage.

Two outages are labelled ``feed_silent``, on working days after the first: one feed stops
delivering for three hours, another keeps calling but delivers only empty batches for three
hours (a broken extraction). A rule that takes an empty batch for a delivery misses the
second; one that does not know office hours fires every night.

Drawn by the ``feeds`` variant of :func:`replay.simulator.generate`, after everything else.
"""

from __future__ import annotations

from datetime import date, timedelta

from envelope.calendar import workday_on
from replay.sim_core import Sim
from replay.sim_time import DAY_S, HOUR_S, MIN_S

FEEDS = (  # (feed, department)
    ("household-registry", "public-security"),
    ("enterprise-credit", "market-regulation"),
    ("social-insurance", "human-resources"),
    ("real-estate-register", "natural-resources"),
)
SOURCE = "data-sharing-platform"
OPEN_S, CLOSE_S = 8 * HOUR_S, 20 * HOUR_S
EMPTY_SHARE = 0.02
OUTAGE_S = 3 * HOUR_S


def working_days(sim: Sim) -> list[int]:
    """The day indexes of the period that are working days."""
    first = date.fromisoformat(sim.clock.iso(0)[:10])
    return [d for d in range(sim.clock.days) if workday_on(first + timedelta(days=d))]


def feeds(sim: Sim) -> None:
    """Every feed's deliveries over the period, with the two labelled outages."""
    rng = sim.rng
    days = working_days(sim)
    later = [d for d in days if d > 0]
    outages: dict[str, tuple[int, int, bool]] = {}
    if later:
        silent, empty = rng.sample(FEEDS, 2)
        for (feed, _), only_empty in ((silent, False), (empty, True)):
            start = rng.choice(later) * DAY_S + rng.randrange(9 * HOUR_S, 14 * HOUR_S)
            outages[feed] = (start, start + OUTAGE_S, only_empty)
    region = sorted(sim.city)[0]  # the platform of the city, registered in its first district
    for feed, department in FEEDS:
        start, end, only_empty = outages.get(feed, (-1, -1, False))
        for day in days:
            t = day * DAY_S + OPEN_S + rng.randrange(0, 15 * MIN_S)
            while t < day * DAY_S + CLOSE_S:
                inside = start <= t < end
                if not inside or only_empty:  # silent: nothing; broken: an empty batch
                    empty_batch = inside or rng.random() < EMPTY_SHARE
                    rows = 0 if empty_batch else rng.randint(20, 2_000)
                    attrs = {"feed": feed, "rows": rows}
                    sim.emit(
                        t, "data.feed_delivered", region, department, ("feed", feed), attrs,
                        source=SOURCE,
                    )  # fmt: skip
                t += rng.randrange(15 * MIN_S, 35 * MIN_S)
    for feed, (a, b, empty_only) in sorted(outages.items()):
        note = "only empty batches" if empty_only else "no delivery"
        sim.label("feed_silent", feed, a, b, region, f"{note} for 3 hours")
