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


# The service-quality signals the supervision reports name: event types, their fields and
# units. ``service.evaluated``: a citizen's review of one handled application (a "good/bad
# review"); ``service_chain.*``: a "one thing at a time" chain, one application package
# passed from department to department under one total time limit; and
# ``portal.application_failed``: an online attempt the portal did not accept.
SIGNAL_EVENTS: dict[str, dict[str, str]] = {
    "service.evaluated": {
        "attrs.evaluation_id": "the review's id",
        "attrs.application_id": "the application reviewed",
        "attrs.item": "the service item",
        "attrs.official": "the official who handled it",
        "attrs.hall": "the service hall that handled it (region code, -H and a number)",
        "attrs.rating": "stars, a whole number 1 (very dissatisfied) to 5 (very satisfied)",
        "attrs.verdict": "'bad' for a rating of 1 or 2, else 'good'",
        "attrs.channel": "where it was given: hall-pad, sms, app or web",
    },
    "service_chain.started": {
        "attrs.chain_id": "the chain's id",
        "attrs.chain": "the package, like open-a-restaurant",
        "attrs.total_days": "the total time limit in working days (China's calendar)",
        "attrs.stages": "the stages in order, a list of names",
        "department": "the department of the first stage",
    },
    "service_chain.stage_started": {
        "attrs.chain_id": "the chain's id",
        "attrs.stage": "the stage's name",
        "attrs.stage_days": "the stage's own time limit in working days (China's calendar)",
        "department": "the department that handles the stage",
    },
    "service_chain.stage_completed": {
        "attrs.chain_id": "the chain's id",
        "attrs.stage": "the stage's name",
        "department": "the department that handled the stage",
    },
    "service_chain.completed": {"attrs.chain_id": "the chain's id, every stage done"},
    "portal.application_failed": {
        "attrs.applicant": "who tried (a personal identifier)",
        "attrs.item": "the service item",
        "attrs.step": "where it failed: login, identity-check, form or upload",
    },
}
BAD_RATING_MAX = 2  # a rating of at most this many stars is a bad review


def review_verdict(rating: int) -> str:
    """The verdict of a review of ``rating`` stars.

    >>> review_verdict(2), review_verdict(3)
    ('bad', 'good')
    """
    return "bad" if rating <= BAD_RATING_MAX else "good"
