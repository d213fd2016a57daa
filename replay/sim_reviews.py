"""Service evaluations ("good/bad reviews"): citizens rate the handling of their application.

About three in five decided applications are reviewed, minutes to hours after the decision,
naming the item, the official and the service hall (each official works at one of three
halls of their district). Bad reviews (1-2 stars) are rare and each hall and each official
has a rate of its own (2-8 %), so a busy hall sees a bad review most days and a small
one a few a week: what is normal differs from key to key.

| scenario | label key | label span |
| --- | --- | --- |
| bad_reviews_official | official | first .. last review of the bad days + 1 hour |
| bad_reviews_hall | hall | first .. last review of the bad day + 1 hour |

- an official's service sours for three days: every decision is reviewed and 85-95 % of
  the reviews are bad (only an official with 10-30 decisions in those days, at a hall no
  other scenario takes: their hall's bad reviews rise with them, unlabelled);
- a hall has a bad day (its queueing system down): every decision of the day is reviewed
  within the hour and 40-55 % of the reviews are bad (only a working day with at least 10
  decisions at the hall).
"""

from __future__ import annotations

import zlib
from typing import Any

from envelope.vocabulary import review_verdict
from replay.sim_core import Sim
from replay.sim_time import DAY_S, HOUR_S, MIN_S

REVIEW_RATE = 0.6
BAD_RATE = (0.02, 0.08)
HALL_OF = (1, 1, 1, 2, 2, 3)  # an official's hall by a hash of the id: 1 is the busiest
GOOD_STARS, GOOD_WEIGHTS = (3, 4, 5), (0.1, 0.3, 0.6)
CHANNELS, CHANNEL_WEIGHTS = ("hall-pad", "sms", "app", "web"), (0.35, 0.35, 0.2, 0.1)
SOURCE = "evaluation-system"
# One marked span: (key field, key, start, end, review rate, bad share)
Span = tuple[str, str, int, int, float, float]


def hall_of(region: str, official: str) -> str:
    """The hall ``official`` of ``region`` works at, like ``330106-H1``.

    >>> hall_of("330106", "stf-1a2b3c4d")
    '330106-H1'
    """
    return f"{region}-H{HALL_OF[zlib.crc32(official.encode()) % len(HALL_OF)]}"


def _decisions(sim: Sim) -> list[tuple[int, dict[str, Any], str]]:
    rows = sorted(sim.rows, key=lambda row: (row[0], row[1]))
    out = []
    for t, _, ev in rows:
        if ev["type"] == "application.decided" and ev["attrs"].get("official"):
            out.append((t, ev, hall_of(ev["region"], ev["attrs"]["official"])))
    return out


def review(sim: Sim, t: int, ev: dict[str, Any], hall: str, bad: bool) -> None:
    """Emit one ``service.evaluated`` of the application decided by ``ev``."""
    rng = sim.rng
    stars = rng.choice((1, 2)) if bad else rng.choices(GOOD_STARS, GOOD_WEIGHTS)[0]
    a = ev["attrs"]
    attrs = {
        "evaluation_id": sim.serial("V", ev["region"]),
        "application_id": a["application_id"],
        "item": a["item"],
        "official": a["official"],
        "hall": hall,
        "rating": stars,
        "verdict": review_verdict(stars),
        "channel": rng.choices(CHANNELS, CHANNEL_WEIGHTS)[0],
    }
    entity = (ev["entity"]["kind"], ev["entity"]["id"])
    sim.emit(t, "service.evaluated", ev["region"], ev["department"], entity, attrs, source=SOURCE)


def _first_day(sim: Sim) -> int:
    """No scenario before day 3 (when the period has room): "unlike the usual" needs a
    usual first, and the city starts with no application pending."""
    return 3 if sim.clock.days >= 6 else 0


def _official_spans(sim: Sim, decisions: list, taken: set[str]) -> list[Span]:
    rng, spans = sim.rng, []
    for region in sim.spread_regions(sim.instances(3, 5)):
        day = rng.randrange(_first_day(sim), max(_first_day(sim) + 1, sim.clock.days - 3))
        a, b = day * DAY_S, (day + 3) * DAY_S
        counts: dict[str, int] = {}
        for t, ev, _ in decisions:
            if ev["region"] == region and a <= t < b:
                official = ev["attrs"]["official"]
                counts[official] = counts.get(official, 0) + 1
        busy = sorted(
            o
            for o, n in counts.items()
            if 10 <= n <= 30 and o not in taken and hall_of(region, o) not in taken
        )
        if busy:
            official = rng.choice(busy)
            taken.update((official, hall_of(region, official)))
            spans.append(("official", official, a, b, 1.0, rng.uniform(0.85, 0.95)))
    return spans


def _hall_spans(sim: Sim, decisions: list, taken: set[str]) -> list[Span]:
    rng, spans = sim.rng, []
    busy: dict[tuple[str, int], int] = {}
    for t, _, hall in decisions:
        if not sim.clock.is_weekend(t // DAY_S) and t // DAY_S >= _first_day(sim):
            busy[(hall, t // DAY_S)] = busy.get((hall, t // DAY_S), 0) + 1
    for region in sim.spread_regions(sim.instances(3, 5)):
        days = [k for k, n in sorted(busy.items()) if n >= 10 and k[0][:6] == region]
        days = [(hall, day) for hall, day in days if hall not in taken]
        if days:
            hall, day = rng.choice(days)
            taken.add(hall)
            share = rng.uniform(0.4, 0.55)
            spans.append(("hall", hall, day * DAY_S, (day + 1) * DAY_S, 1.0, share))
    return spans


def service_reviews(sim: Sim) -> None:
    """Reviews of every decision so far: background and both scenarios (see the module)."""
    rng = sim.rng
    decisions = _decisions(sim)
    taken: set[str] = set()
    spans = _official_spans(sim, decisions, taken) + _hall_spans(sim, decisions, taken)
    base: dict[str, float] = {}
    found: dict[int, list[int]] = {i: [] for i in range(len(spans))}
    for t, ev, hall in decisions:
        official = ev["attrs"]["official"]
        for key in (official, hall):
            base.setdefault(key, rng.uniform(*BAD_RATE))
        p_bad = 1 - (1 - base[official]) * (1 - base[hall])
        rate, delay = REVIEW_RATE, rng.randint(5 * MIN_S, 8 * HOUR_S)
        for i, (field, key, a, b, span_rate, share) in enumerate(spans):
            if a <= t < b and key == (official if field == "official" else hall):
                rate, p_bad = span_rate, share
                delay = rng.randint(2 * MIN_S, HOUR_S) if field == "hall" else delay
                found[i].append(t + delay)
        if rng.random() < rate:
            review(sim, t + delay, ev, hall, rng.random() < p_bad)
    for i, (field, key, _, _, _, share) in enumerate(spans):
        times = sorted(x for x in found[i] if x < sim.end_s)
        if times:
            region = key[:6] if field == "hall" else _region_of(decisions, key)
            note = f"{len(times)} reviews, {share:.0%} of them bad"
            sim.label(f"bad_reviews_{field}", key, times[0], times[-1] + HOUR_S, region, note)


def _region_of(decisions: list, official: str) -> str:
    return next(ev["region"] for _, ev, _ in decisions if ev["attrs"]["official"] == official)
