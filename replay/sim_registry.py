"""The enterprise register: registrations, settlement-account changes and deregistrations.

Background a district's market-supervision office records in weekday office hours: new
enterprises register (each with a settlement account of its own), existing ones report a
new account, and some apply to deregister. Deregistering enterprises were never inspected,
or had their finding rectified first (the near miss ``dereg-after-finding`` must let pass).
Once or twice a week a parent and its branch report one account: two enterprises, under
the five that ``shell-company-shared-bank-account`` needs.

Every background event stays in its enterprise's district; the cross-district scenarios
(``replay.sim_cross``) use the functions here to emit theirs.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator
from typing import Any

from replay.sim_city import uscc
from replay.sim_core import Sim
from replay.sim_time import DAY_S, WORK_INTERVALS_S, arrivals

REGISTRY_SOURCE = "enterprise-registry"
DEPARTMENT = "market-supervision"
# Events per weekday office hour per district (scale 1, district weight 1).
REGISTRATIONS_PER_HOUR = 0.3
ACCOUNT_CHANGES_PER_HOUR = 0.15
DEREGISTRATIONS_PER_HOUR = 0.1
RECTIFIED_SHARE = 0.3  # of deregistrations: an enterprise whose finding was rectified first
DISTRICT_NAMES = {
    "330102": "上城区",
    "330105": "拱墅区",
    "330106": "西湖区",
    "330108": "滨江区",
    "330109": "萧山区",
    "330110": "余杭区",
    "330111": "富阳区",
    "330112": "临安区",
}
ROADS = ("文三路", "学院路", "江南大道", "体育场路", "莫干山路", "五常大道", "金城路", "科技大道")
# Enterprise -> its inspections in time order: (time, "finding" | "pass" | "rectified").
History = dict[str, list[tuple[int, str]]]


def new_account(sim: Sim) -> str:
    """A 19-digit settlement account number no enterprise of this run has reported yet."""
    taken = set(sim.accounts.values())
    while True:
        account = f"{sim.rng.getrandbits(62):019d}"[-19:]
        if account not in taken:
            return account


def address_of(region: str, code: str) -> str:
    """The registered address of a background enterprise: one of 3,200 per district, drawn
    from its code (no random draw), so two background enterprises rarely share one."""
    h = zlib.crc32(code.encode())
    road = ROADS[h % len(ROADS)]
    return f"{DISTRICT_NAMES.get(region, region)}{road}{h // len(ROADS) % 400 + 1}号"


def register(sim: Sim, region: str, t: int, account: str, address: str | None = None) -> str:
    """A new enterprise of ``region`` registers at ``t`` with ``account`` (and ``address``,
    else one of its own); returns its code."""
    known = {e for d in sim.city.values() for e in d.enterprises} | set(sim.accounts)
    code = uscc(sim.rng, region)
    while code in known:
        code = uscc(sim.rng, region)
    sim.accounts[code] = account
    attrs = {
        "registration_id": sim.serial("R", region),
        "bank_account": account,
        "address": address or address_of(region, code),
    }
    _emit(sim, t, "enterprise.registered", region, code, attrs)
    return code


def report_account(sim: Sim, region: str, enterprise: str, t: int, account: str) -> None:
    """``enterprise`` reports ``account`` as its settlement account at the office of ``region``."""
    sim.accounts[enterprise] = account
    attrs = {
        "registration_id": sim.serial("R", region),
        "change": "bank_account",
        "bank_account": account,
    }
    _emit(sim, t, "enterprise.registration_updated", region, enterprise, attrs)


def deregister(sim: Sim, region: str, enterprise: str, t: int) -> None:
    """``enterprise`` applies at the office of ``region`` to be deregistered."""
    sim.deregistered.add(enterprise)
    attrs = {"deregistration_id": sim.serial("D", region), "reason": "business-closed"}
    _emit(sim, t, "enterprise.deregistration_applied", region, enterprise, attrs)


def _emit(
    sim: Sim, t: int, etype: str, region: str, enterprise: str, attrs: dict[str, Any]
) -> None:
    sim.emit(
        t,
        etype,
        region,
        DEPARTMENT,
        ("enterprise", enterprise),
        attrs,
        stream="regulatory",
        source=REGISTRY_SOURCE,
    )


def inspected(sim: Sim) -> History:
    """Enterprise -> its inspections so far in time order, as (time, "finding" | "pass" |
    "rectified")."""
    out: History = {}
    for t, _, event in sorted(sim.rows, key=lambda row: (row[0], row[1])):
        if event["type"].startswith("inspection."):
            what = event["attrs"].get("result", "rectified")
            out.setdefault(event["entity"]["id"], []).append((t, what))
    return out


def quiet_enterprises(sim: Sim, region: str, history: History) -> list[str]:
    """Enterprises of ``region`` never inspected, with no account reported, not deregistered."""
    return [
        e
        for e in sim.city[region].enterprises
        if e not in history and e not in sim.accounts and e not in sim.deregistered
    ]


def _rectified_before(history: History, ents: Iterable[str], t: int) -> Iterator[str]:
    """Enterprises whose every finding before ``t`` was rectified before ``t``."""
    for e in ents:
        events = [what for when, what in history.get(e, ()) if when < t]
        if "finding" in events and events.count("finding") == events.count("rectified"):
            yield e


def background_registry(sim: Sim) -> None:
    """Registrations, account changes, deregistrations and the shared-account near misses."""
    rng = sim.rng
    history = inspected(sim)
    for day in range(sim.clock.days):
        if sim.clock.is_weekend(day):
            continue
        base = day * DAY_S
        for region, district in sim.city.items():
            rate = district.weight * sim.scale
            for a, b in WORK_INTERVALS_S:
                for t in arrivals(rng, base + a, base + b, REGISTRATIONS_PER_HOUR * rate):
                    register(sim, region, t, new_account(sim))
                for t in arrivals(rng, base + a, base + b, ACCOUNT_CHANGES_PER_HOUR * rate):
                    quiet = quiet_enterprises(sim, region, history)
                    report_account(sim, region, rng.choice(quiet), t, new_account(sim))
                for t in arrivals(rng, base + a, base + b, DEREGISTRATIONS_PER_HOUR * rate):
                    _background_dereg(sim, region, t, history)
    _parent_and_branch(sim, history)


def _background_dereg(sim: Sim, region: str, t: int, history: History) -> None:
    """One deregistration: a never-inspected enterprise, or one that rectified its finding."""
    fixed = list(_rectified_before(history, sim.city[region].enterprises, t))
    fixed = [e for e in fixed if e not in sim.deregistered]
    if fixed and sim.rng.random() < RECTIFIED_SHARE:
        deregister(sim, region, sim.rng.choice(fixed), t)
    else:
        deregister(sim, region, sim.rng.choice(quiet_enterprises(sim, region, history)), t)


def _parent_and_branch(sim: Sim, history: History) -> None:
    """Two enterprises of one district report one account (a parent and its branch office)."""
    rng = sim.rng
    for region in sim.spread_regions(sim.instances(1, 2)):
        first = sim.clock.sample_working(rng, 0, sim.end_s)
        if first is None:
            continue
        second = sim.clock.sample_working(rng, first + 1, sim.end_s) or first
        account = new_account(sim)
        register(sim, region, first, account)
        branch = rng.choice(quiet_enterprises(sim, region, history))
        report_account(sim, region, branch, second, account)
