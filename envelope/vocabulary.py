"""The event vocabulary shipped with riskloop: departments, region codes and personal fields.

These are the defaults of a deployment (``RISKLOOP_DEPARTMENTS`` and ``RISKLOOP_REGIONS``
replace the first two) and the names the simulator writes its events with, so a demo works
without configuration:

- ``DEPARTMENTS``: the departments clues may be dispatched to;
- ``REGIONS``: administrative division codes, each covering every code it prefixes
  (``3301`` is the city, so ``330106``, one of its districts, is inside it);
- ``PERSONAL_KINDS``: entity kinds that are people, so ``entity.id`` of such an event is a
  personal identifier;
- ``PERSONAL_ATTRS``: event attributes that name a person (``attrs.applicant``, …), and the
  key parts of a warning's group key that carry them (``applicant=…``).

>>> "market-supervision" in DEPARTMENTS, region_known("330106", REGIONS)
(True, True)
>>> region_known("440305", REGIONS), region_known("33", REGIONS), region_known("", REGIONS)
(False, True, False)
"""

from __future__ import annotations

from collections.abc import Iterable

DEPARTMENTS: tuple[str, ...] = (
    "market-supervision",
    "civil-affairs",
    "public-security",
    "human-resources",
    "housing",
    "ecology-environment",
    "urban-management",
    "health",
)
REGIONS: tuple[str, ...] = ("3301",)
PERSONAL_KINDS = frozenset(("citizen", "person", "staff", "account", "official", "applicant"))
PERSONAL_ATTRS = frozenset(
    (
        "applicant",
        "citizen",
        "person",
        "account",
        "staff",
        "user",
        "official",
        "inspector",
        "approver",
        "caller",
        "complainant",
        "phone",
        "mobile",
        "id_card",
    )
)


def region_known(code: str, regions: Iterable[str]) -> bool:
    """Whether ``code`` names a place ``regions`` cover: one of them, a code inside one, or a
    wider code around one (the province ``33`` around the city ``3301``)."""
    return bool(code) and any(code.startswith(r) or r.startswith(code) for r in regions)


def parse_list(text: str) -> tuple[str, ...]:
    """A comma-separated setting as a tuple, blanks dropped (``"a, b,"`` -> ``("a", "b")``)."""
    return tuple(x.strip() for x in text.split(",") if x.strip())
