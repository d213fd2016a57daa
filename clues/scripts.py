"""The clue store's Lua scripts: the ``.lua`` files in ``clues/lua/`` with their tables.

The Lua lives in package data (``clues/lua/*.lua``), read with ``importlib.resources`` so it
works from an installed package as from a checkout: ``prelude.lua`` (key names, indexes,
audit, outbox, the common end of every step) and one file per script, ``upsert.lua``,
``reap.lua``, ``sla_step.lua``, ``transition.lua`` (one verb per call, every verb atomic) and
``list.lua``. ``clues.store`` registers each with redis-py's ``register_script``, which runs
it by EVALSHA and loads it again when Redis answers NOSCRIPT.

One source of truth for the tables: the state machine (sources, targets, roles, holder and
override rules, status sets) and the numbers the scripts need are not written in Lua. They are
generated here from ``clues.model`` and the field lists below, as a preamble of ``local``
definitions put in front of the prelude when the script text is assembled at import, so the
Lua and the Python cannot disagree. Every call runs that preamble again (a script keeps
nothing between calls), so the per-action sets (SOURCES, ROLES, OVERRIDE) are built only for
the action a call looks up. A script is preamble + ``prelude.lua`` + its own file.

Every script takes the key prefix as ``ARGV[1]`` and builds key names as ``clues.keys``
does. Scripts never read the Redis clock: times come in as arguments (event time for
upserts, the caller's clock for the rest), so they stay deterministic and testable.
Replies are flat arrays of strings: ``{'OK', ...}`` or ``{'ERR', CODE, ...}``.
"""

from __future__ import annotations

from importlib import resources

from clues import model
from clues.model import TRANSITIONS

AUDIT_MAXLEN = 100_000
WARNINGS_KEPT = 100
# State fields whose changes every audit entry records (before/after): replaying the "after"
# of a clue's entries in order rebuilds exactly these fields.
TRACKED = (
    "status",
    "claimed_by",
    "department",
    "priority",
    "warning_count",
    "first_seen_ms",
    "last_seen_ms",
    "due_ms",
    "sign_due_ms",
    "deadline_estimated",
    "colour",
    "escalation_level",
    "ticket_id",
    "return_count",
    "arbitrated",
    "rework_count",
    "disposition_code",
    "sub_reason",
    "outcome",
    "case_ref",
    "merged_into",
    "extension_count",
    "ext_new_due_ms",
    "suspend_reason",
    "paused_ms",
    "labels",
    "evidence_refs",
    "closed_by",
)
INDEXED = (
    "status",
    "rule_id",
    "department",
    "colour",
    "claimed_by",
    "priority",
    "first_seen_ms",
    "due_ms",
    "lease_expires_ms",
    "updated_ms",
)


def _set(names: tuple[str, ...]) -> str:
    return "{" + ", ".join(f"[{n!r}]=true" for n in names) + "}"


def _map(pairs: dict[str, str]) -> str:
    return "{" + ", ".join(f"[{k!r}]={v}" for k, v in pairs.items()) + "}"


def _lazy(name: str, sets: dict[str, tuple[str, ...]]) -> str:
    """``name[action]``, the set of ``sets[action]`` ({} for another key), built when first
    looked up: a step looks up one action, so a call builds one set, not one per action."""
    branches = " else".join(f"if a == {a!r} then v = {_set(x)}" for a, x in sets.items())
    return (
        f"local {name} = setmetatable({{}}, {{__index = function(t, a) local v\n"
        f"  {branches} else v = {{}} end\n  rawset(t, a, v); return v end}})"
    )


def _list(names: tuple[str, ...]) -> str:
    return "{" + ", ".join(repr(n) for n in names) + "}"


def _tables() -> str:
    t = TRANSITIONS
    return "\n".join(
        [
            _lazy("SOURCES", {a: x.sources for a, x in t.items()}),
            f"local TARGET = {_map({a: repr(x.target) for a, x in t.items()})}",
            _lazy("ROLES", {a: x.roles for a, x in t.items()}),
            f"local HOLDER = {_set(tuple(a for a, x in t.items() if x.holder))}",
            _lazy("OVERRIDE", {a: x.override for a, x in t.items()}),
            f"local RENEWS = {_set(tuple(a for a, x in t.items() if x.renews))}",
            f"local READONLY = {_set(model.READ_ACTIONS)}",
            f"local OPEN = {_set(model.OPEN_STATUSES)}",
            f"local CLOCKED = {_set(model.CLOCKED_STATUSES)}",
            f"local HELD = {_set(model.HELD_STATUSES)}",
            f"local EVIDENCE_REQUIRED = {_set(model.EVIDENCE_REQUIRED)}",
            f"local TRACKED = {_list(TRACKED)}",
            f"local INDEXED = {_list(INDEXED)}",
            f"local MAX_PRIO = {model.MAX_PRIORITY}",
            f"local RETURNS_ARB = {model.RETURNS_BEFORE_ARBITRATION}",
            f"local REWORK_TICKET = {model.REWORK_TICKET_AFTER}",
            f"local REPEAT_WINDOW = {model.REPEAT_WINDOW_MS}",
            f"local AUDIT_MAXLEN = '{AUDIT_MAXLEN}'",
            f"local WARNINGS_LAST = {WARNINGS_KEPT - 1}",
        ]
    )


LUA_FILES = ("views", "prelude", "upsert", "reap", "sla_step", "transition", "list")


def lua_source(name: str) -> str:
    """The text of ``clues/lua/<name>.lua``, from the installed package."""
    return resources.files("clues").joinpath("lua", f"{name}.lua").read_text(encoding="utf-8")


PRELUDE = _tables() + "\n" + lua_source("views") + "\n" + lua_source("prelude")


def _script(name: str) -> str:
    return PRELUDE + "\n" + lua_source(name)


UPSERT = _script("upsert")
REAP = _script("reap")
SLA_STEP = _script("sla_step")
TRANSITION = _script("transition")
LIST = _script("list")
