"""Who is calling and what they may see: principals, scopes, token hashing. Pure module.

A principal has one role and a scope: the departments and region codes it works in
(``None`` = all). Region codes are hierarchical (33 province ⊃ 3301 city ⊃ 330106 district),
so a scope entry covers every code it prefixes. Tokens are random strings; only their
SHA-256 is stored.

Bootstrap tokens (``RISKLOOP_API_BOOTSTRAP_TOKENS``) are written as entries separated by
``;`` or whitespace: ``TOKEN=actor:role:departments:regions`` with ``,`` between several
departments or regions and ``*`` for all.

Examples:
    >>> (tok, p), = parse_bootstrap("s3cret=alice:inspector:market-supervision:3301")
    >>> tok, p.name, p.role, p.departments, p.regions
    ('s3cret', 'alice', 'inspector', ('market-supervision',), ('3301',))
    >>> p.covers("market-supervision", "330106"), p.covers("market-supervision", "330206")
    (True, False)
    >>> parse_bootstrap("x=bob:boss:*:*")
    Traceback (most recent call last):
    ...
    clues.access.BadTokenSpec: token entry 1 ('x=bob:boss:*:*'): unknown role 'boss'; use one of inspector, lead, supervisor, admin
"""  # noqa: E501

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from clues.model import ADMIN, ROLES, SYSTEM
from envelope.errors import UserError

TOKEN_PREFIX = "rlt_"
_NAME = re.compile(r"^[\w.@-]{1,64}$")


class BadTokenSpec(UserError, ValueError):
    """A token entry that cannot be parsed; the message names the entry and the fix."""


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: a name (the audit's actor), a role and a scope."""

    name: str
    role: str
    departments: tuple[str, ...] | None = None  # None: every department
    regions: tuple[str, ...] | None = None  # None: every region; entries are code prefixes

    def covers(self, department: str, region: str) -> bool:
        """Whether a clue of this department and region is inside the principal's scope."""
        if self.departments is not None and department not in self.departments:
            return False
        return self.regions is None or any(region.startswith(r) for r in self.regions)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role,
            "departments": list(self.departments) if self.departments is not None else ["*"],
            "regions": list(self.regions) if self.regions is not None else ["*"],
        }


SYSTEM_PRINCIPAL = Principal(SYSTEM, ADMIN)


def new_token() -> str:
    """A fresh random token (shown once, stored only as its hash)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(24)


def token_hash(token: str) -> str:
    """SHA-256 hex of a token: the only form a token is stored in."""
    return hashlib.sha256(token.encode()).hexdigest()


def scope_list(values: Iterable[str] | None) -> tuple[str, ...] | None:
    """Normalise a scope: ``None``, empty or containing ``*`` means everything."""
    items = tuple(v.strip() for v in (values or ()) if v.strip())
    return None if not items or "*" in items else items


def make_principal(
    name: str, role: str, departments: Iterable[str] | None, regions: Iterable[str] | None
) -> Principal:
    """A validated principal; ValueError naming the bad value."""
    if not _NAME.match(name):
        raise ValueError(f"actor name {name!r}: use 1-64 letters, digits, '.', '@', '_' or '-'")
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    return Principal(name, role, scope_list(departments), scope_list(regions))


def parse_bootstrap(spec: str) -> list[tuple[str, Principal]]:
    """(token, principal) pairs from a bootstrap spec (see the module docstring)."""
    out: list[tuple[str, Principal]] = []
    for n, entry in enumerate(re.split(r"[;\s]+", spec.strip()), start=1):
        if not entry:
            continue
        token, sep, rest = entry.partition("=")
        parts = rest.split(":")
        if not sep or not token or len(parts) != 4:
            raise BadTokenSpec(
                f"token entry {n} ({entry!r}): write TOKEN=actor:role:departments:regions"
            )
        try:
            p = make_principal(parts[0], parts[1], parts[2].split(","), parts[3].split(","))
        except ValueError as exc:
            raise BadTokenSpec(f"token entry {n} ({entry!r}): {exc}") from None
        out.append((token, p))
    return out
