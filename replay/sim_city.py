"""The simulated city: districts, departments, service items and the people in them.

Every entity (enterprise, citizen, staff account) belongs to exactly one district, and the
background events about it carry that district's region code; only the cross-district
scenarios (``replay.sim_cross``) take a citizen to another district's hall or an inspector to
an enterprise of another district. An enterprise's code names its home district. Citizens
are pseudonymised (``cit-<hex>``), never ID-card-like numbers.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from envelope.vocabulary import DEPARTMENTS

# Region code -> relative activity (population, enterprises, hotline volume).
REGIONS: dict[str, float] = {
    "330102": 1.0,
    "330105": 0.9,
    "330106": 1.2,
    "330108": 1.1,
    "330109": 1.0,
    "330110": 1.2,
    "330111": 0.8,
    "330112": 0.7,
}


@dataclass(frozen=True, slots=True)
class Item:
    """A government service item: who applies, which department decides, in how many days."""

    name: str
    department: str
    applicant_kind: str  # "citizen" | "enterprise"
    deadline_days: int  # statutory working days from acceptance to decision
    weight: float  # share of applications
    license: bool = False  # an approval issues a licence (regulatory stream)


ITEMS: tuple[Item, ...] = (
    Item("business-license", "market-supervision", "enterprise", 3, 1.4, license=True),
    Item("food-license", "market-supervision", "enterprise", 10, 1.0, license=True),
    Item("residence-permit", "public-security", "citizen", 10, 1.5),
    Item("household-transfer", "public-security", "citizen", 5, 0.8),
    Item("social-insurance-transfer", "human-resources", "citizen", 15, 1.2),
    Item("employment-registration", "human-resources", "citizen", 5, 0.9),
    Item("minimum-living-allowance", "civil-affairs", "citizen", 15, 0.5),
    Item("elderly-allowance", "civil-affairs", "citizen", 10, 0.6),
    Item("provident-fund-withdrawal", "housing", "citizen", 5, 1.1),
    Item("construction-permit", "housing", "enterprise", 15, 0.4, license=True),
    Item("environmental-impact-approval", "ecology-environment", "enterprise", 15, 0.4),
    Item("outdoor-advertising-permit", "urban-management", "enterprise", 10, 0.5, license=True),
    Item("health-certificate", "health", "citizen", 3, 0.9),
    Item("medical-institution-license", "health", "enterprise", 15, 0.2, license=True),
)
ITEM_WEIGHTS = [it.weight for it in ITEMS]

# 12345 hotline category -> (handling department, share of tickets).
HOTLINE_CATEGORIES: dict[str, tuple[str, float]] = {
    "noise": ("public-security", 0.22),
    "sanitation": ("urban-management", 0.16),
    "food-safety": ("market-supervision", 0.10),
    "traffic": ("public-security", 0.15),
    "housing": ("housing", 0.13),
    "wage-arrears": ("human-resources", 0.09),
    "environment": ("ecology-environment", 0.15),
}

# Datasets a department's staff read on the data-sharing platform.
DATASETS: dict[str, tuple[str, ...]] = {
    "civil-affairs": ("household", "social-insurance"),
    "public-security": ("household", "vehicle"),
    "human-resources": ("social-insurance", "tax"),
    "housing": ("household", "tax"),
    "health": ("medical",),
    "market-supervision": ("tax",),
    "urban-management": ("household", "vehicle"),
}
PURPOSES = ("case-handling", "eligibility-check", "identity-verification", "statistics")
INSPECTING = ("market-supervision", "ecology-environment", "urban-management", "health")

OFFICIALS_PER_DEPT = 2
STAFF_PER_DEPT = 6
ENTERPRISES_PER_DISTRICT = 400
CITIZENS_PER_DISTRICT = 3_000
_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


@dataclass(frozen=True, slots=True)
class Staff:
    """A staff account: one department, one district; officials approve applications."""

    id: str
    region: str
    department: str
    official: bool
    datasets: tuple[str, ...] = ()
    activity: float = 0.0  # chance of reading records in a given office hour


@dataclass
class District:
    """One district's population."""

    region: str
    weight: float
    citizens: list[str] = field(default_factory=list)
    enterprises: list[str] = field(default_factory=list)
    officials: dict[str, list[Staff]] = field(default_factory=dict)
    readers: list[Staff] = field(default_factory=list)
    inspectors: list[Staff] = field(default_factory=list)


def uscc(rng: random.Random, region: str) -> str:
    """An 18-character unified-social-credit-code-like id for an enterprise in ``region``.

    >>> code = uscc(random.Random(1), "330106")
    >>> len(code), code[:8]
    (18, '91330106')
    """
    body = "91" + region + "".join(rng.choice(_USCC_CHARS) for _ in range(9))
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(body, _USCC_WEIGHTS, strict=True))
    return body + _USCC_CHARS[(31 - total % 31) % 31]


class _Ids:
    """Random hex ids, unique within one city."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.seen: set[str] = set()

    def new(self, prefix: str, bits: int = 48) -> str:
        while True:
            value = f"{prefix}{self.rng.getrandbits(bits):0{bits // 4}x}"
            if value not in self.seen:
                self.seen.add(value)
                return value


def _staff(rng: random.Random, ids: _Ids, district: District, per_dept: int) -> None:
    for dept in DEPARTMENTS:
        officials = []
        for i in range(per_dept):
            official = i < OFFICIALS_PER_DEPT
            datasets = () if official else DATASETS.get(dept, ())
            if datasets and len(datasets) > 1 and rng.random() < 0.5:
                datasets = (rng.choice(datasets),)
            member = Staff(
                id=ids.new("stf-", 32),
                region=district.region,
                department=dept,
                official=official,
                datasets=datasets,
                activity=rng.uniform(0.2, 0.45) if datasets else 0.0,
            )
            if official:
                officials.append(member)
            if datasets:
                district.readers.append(member)
            if dept in INSPECTING and not official:
                district.inspectors.append(member)
        district.officials[dept] = officials


def build_city(rng: random.Random, scale: float = 1.0) -> dict[str, District]:
    """Districts by region code, populated in proportion to ``scale``."""
    ids = _Ids(rng)
    per_dept = max(OFFICIALS_PER_DEPT + 2, round(STAFF_PER_DEPT * scale))
    city: dict[str, District] = {}
    for region, weight in REGIONS.items():
        district = District(region=region, weight=weight)
        n_ent = max(50, round(ENTERPRISES_PER_DISTRICT * weight * scale))
        n_cit = max(400, round(CITIZENS_PER_DISTRICT * weight * scale))
        while len(district.enterprises) < n_ent:
            code = uscc(rng, region)
            if code not in ids.seen:
                ids.seen.add(code)
                district.enterprises.append(code)
        district.citizens = [ids.new("cit-") for _ in range(n_cit)]
        _staff(rng, ids, district, per_dept)
        city[region] = district
    return city
