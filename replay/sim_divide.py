"""The "digital divide" signal: a citizen fails an online application again and again, then
turns up at a counter.

``portal.application_failed`` is an online attempt the portal did not accept (login,
identity check, form or upload). Background: some online applicants fail once or twice
before their submission goes through; a few fail three or four times and then succeed
online; some fail once or twice and then apply at a counter. None of these is the signal
(it needs three failures and then the counter). Each applicant and item gets at most one
run of background failures, so a citizen who files an item many times does not add up to it.

| scenario | label key | label span |
| --- | --- | --- |
| digital_divide | "applicant|item" | first failure .. counter submission + 1 hour |
"""

from __future__ import annotations

from replay.sim_apps import normal_application, pick_applicant
from replay.sim_city import ITEMS
from replay.sim_core import Sim
from replay.sim_time import DAY_S, HOUR_S, MIN_S

STEPS = ("login", "identity-check", "form", "upload")
FAIL_BEFORE_ONLINE = 0.08  # of online submissions: 1-2 failures just before
PERSIST_ONLINE = 0.01  # of online submissions: 3-4 failures in the days before, then success
FAIL_BEFORE_COUNTER = 0.05  # of counter submissions: 1-2 failures in the days before
PORTAL = "provincial-portal"


def fail_online(sim: Sim, region: str, department: str, who: str, item: str, t: int) -> None:
    """Emit one ``portal.application_failed`` of citizen ``who`` for ``item`` at ``t``."""
    attrs = {"applicant": who, "item": item, "step": sim.rng.choice(STEPS)}
    sim.emit(
        t, "portal.application_failed", region, department, ("citizen", who), attrs, source=PORTAL
    )


def _failures(sim: Sim, ev: dict, t: int, n: int, span_s: int) -> None:
    for _ in range(n):
        at = t - sim.rng.randint(10 * MIN_S, span_s)
        who, item = ev["attrs"]["applicant"], ev["attrs"]["item"]
        fail_online(sim, ev["region"], ev["department"], who, item, at)


def background_online_failures(sim: Sim) -> None:
    """Failed online attempts before some of the citizens' submissions (see the module)."""
    rng = sim.rng
    done: set[tuple[str, str]] = set()
    submitted = [
        (t, ev)
        for t, _, ev in sorted(sim.rows, key=lambda row: (row[0], row[1]))
        if ev["type"] == "application.submitted" and ev["entity"]["kind"] == "citizen"
    ]
    for t, ev in submitted:
        pair = (ev["attrs"]["applicant"], ev["attrs"]["item"])
        if pair in done:
            continue
        draw = rng.random()
        if ev["attrs"].get("channel") == "online":
            if draw < PERSIST_ONLINE:
                _failures(sim, ev, t, rng.randint(3, 4), 2 * DAY_S)
            elif draw < PERSIST_ONLINE + FAIL_BEFORE_ONLINE:
                _failures(sim, ev, t, rng.randint(1, 2), 3 * HOUR_S)
            else:
                continue
        elif draw < FAIL_BEFORE_COUNTER:
            _failures(sim, ev, t, rng.randint(1, 2), 3 * DAY_S)
        else:
            continue
        done.add(pair)


def inject_digital_divide(sim: Sim) -> None:
    """A citizen fails 3-6 times online within 1-3 days, then applies at a counter 2 hours
    to 4 days after the last failure."""
    rng = sim.rng
    items = [it for it in ITEMS if it.applicant_kind == "citizen"]
    for region in sim.spread_regions(sim.instances(6, 10)):
        item = rng.choice(items)
        who = pick_applicant(sim, region, item)
        first = rng.randrange(0, max(1, sim.end_s - 3 * DAY_S))
        if who is None:
            continue
        span = rng.randint(1, 3) * DAY_S
        times = sorted(first + rng.randrange(0, span) for _ in range(rng.randint(3, 6)))
        at_counter = sim.clock.sample_working(rng, times[-1] + 2 * HOUR_S, times[-1] + 4 * DAY_S)
        if at_counter is None or at_counter >= sim.end_s - DAY_S:
            continue
        for t in times:
            fail_online(sim, region, item.department, who, item.name, t)
        normal_application(sim, region, item, who, at_counter, "window", resubmit=False)
        note = f"{len(times)} failed online attempts at {item.name}, then the counter"
        sim.label(
            "digital_divide", f"{who}|{item.name}", times[0], at_counter + HOUR_S, region, note
        )
