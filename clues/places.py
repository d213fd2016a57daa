"""The departments and regions a deployment knows: a dispatch, an arbitration, a token's scope
or a list filter naming any other is refused (HTTP 422) before anything is written, so no
index key is ever made for a department that does not exist. Pure module.

The lists are ``RISKLOOP_DEPARTMENTS`` and ``RISKLOOP_REGIONS`` (comma-separated), else the
shipped vocabulary (``envelope.vocabulary``).

>>> places = Places(("housing", "health"), ("3301",))
>>> places.department("housing")
'housing'
>>> places.department("' OR '1'='1' --")
Traceback (most recent call last):
...
clues.places.UnknownPlace: unknown department "' OR '1'='1' --"; known departments: health, housing
>>> places.region("4403")
Traceback (most recent call last):
...
clues.places.UnknownPlace: unknown region code '4403'; known regions: 3301 and the codes inside it
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from clues.model import BadDisposition
from envelope import vocabulary
from envelope.settings import Settings


class UnknownPlace(BadDisposition):
    """A department or region code outside the configured lists (HTTP 422)."""


@dataclass(frozen=True, slots=True)
class Places:
    """Known departments and region codes (each region covers the codes it prefixes)."""

    departments: tuple[str, ...] = vocabulary.DEPARTMENTS
    regions: tuple[str, ...] = vocabulary.REGIONS

    @classmethod
    def from_settings(cls, settings: Settings) -> Places:
        depts = vocabulary.parse_list(settings.departments) or vocabulary.DEPARTMENTS
        regions = vocabulary.parse_list(settings.regions) or vocabulary.REGIONS
        return cls(depts, regions)

    def department(self, name: str) -> str:
        """``name`` if it is a known department, else UnknownPlace naming the known ones."""
        if name not in self.departments:
            known = ", ".join(sorted(self.departments))
            raise UnknownPlace(f"unknown department {name!r}; known departments: {known}")
        return name

    def region(self, code: str) -> str:
        """``code`` if it names a known region (or one inside or around it)."""
        if not vocabulary.region_known(code, self.regions):
            known = ", ".join(self.regions)
            raise UnknownPlace(
                f"unknown region code {code!r}; known regions: {known} and the codes inside it"
            )
        return code

    def scope(self, departments: Iterable[str], regions: Iterable[str]) -> None:
        """Check a token's scope entries (``*`` stands for all and is always fine)."""
        for d in departments:
            if d.strip() and d.strip() != "*":
                self.department(d.strip())
        for r in regions:
            if r.strip() and r.strip() != "*":
                self.region(r.strip())
