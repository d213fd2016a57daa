"""Shell companies at one address: new enterprises of several districts register at one
address within days, the address typed differently each time.

The label key is the address as ``group_by: [attrs.address|address]`` keys it (the
library's ``address_prefixes`` stripped, NFKC, spaces dropped), so a warning of
``shell-company-shared-address`` matches it.
"""

from __future__ import annotations

from replay.sim_core import Sim
from replay.sim_registry import DISTRICT_NAMES, new_account, register
from replay.sim_time import DAY_S
from rules.matching.normalise import address as normalise_address

PREFIXES = ("浙江省", "杭州市")  # as rules/library/_shared.yaml lists them
BUILDINGS = ("创业大厦", "科创中心", "商务楼", "孵化园")
_FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def typed(sim: Sim, address: str) -> str:
    """``address`` as one clerk or applicant might type it."""
    way = sim.rng.randrange(4)
    if way == 0:
        return "".join(PREFIXES) + address
    if way == 1:
        return "杭州市 " + address
    if way == 2:
        return address.translate(_FULL_WIDTH)
    return address


def inject_shared_address(sim: Sim) -> None:
    """5-7 enterprises register at one address within 5 days at three districts' offices."""
    from replay.sim_cross import split_regions

    rng = sim.rng
    for _ in range(sim.instances(3, 4)):
        regions = split_regions(sim, 3)
        first = sim.clock.sample_working(rng, 0, sim.end_s - DAY_S)
        if first is None:
            continue
        offices = [regions[i % 3] for i in range(rng.randint(5, 7))]
        later = [
            sim.clock.sample_working(rng, first + 1, min(first + 5 * DAY_S, sim.end_s))
            for _ in offices[1:]
        ]
        times = sorted([first] + [t or first for t in later])
        room = rng.randint(201, 1999)
        place = f"{DISTRICT_NAMES[regions[0]]}{rng.choice(BUILDINGS)}{rng.randint(1, 99)}号{room}室"
        for region, t in zip(offices, times, strict=True):
            register(sim, region, t, new_account(sim), typed(sim, place))
        key = normalise_address(place, PREFIXES)
        note = f"{len(offices)} enterprises of 3 districts register at one address"
        sim.label("shared_address", key, times[0], times[-1] + DAY_S, regions[0], note, regions)
