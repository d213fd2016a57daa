"""The clue store's Lua: the ``.lua`` files in ``clues/lua/`` with their tables, assembled
as one Redis Functions library (how the store calls them) and as plain scripts.

The Lua lives in package data (``clues/lua/*.lua``), read with ``importlib.resources`` so it
works from an installed package as from a checkout: ``prelude.lua`` (key names, indexes,
audit, outbox, the common end of every step) and one file per function, ``upsert.lua``,
``reap.lua``, ``sla_step.lua``, ``transition.lua`` (one verb per call, every verb atomic) and
``list.lua``.

``LIBRARY`` is all of them in one library for FUNCTION LOAD (``clues.batch`` loads it, and
again when Redis answers that a function is missing: a restart without it, FUNCTION FLUSH).
The library's top level runs once, when Redis loads it: the tables, the prelude and each
file's definitions down to its ``-- per call`` line are built then and kept; each call runs
only the rest of its file. Its name and its functions' names carry a digest of its text,
so two versions of the code never call each other's functions. ``UPSERT``, ``TRANSITION``
... are the same Lua as one script each (preamble + prelude + file, run again on every
EVAL), kept as the baseline the benchmark compares with.

One source of truth for the tables: the state machine (sources, targets, roles, holder and
override rules, status sets) and the numbers the Lua needs are not written in Lua. They are
generated here from ``clues.model`` and the field lists below, as a preamble of ``local``
definitions put in front of the prelude, so the Lua and the Python cannot disagree. The
per-action sets (SOURCES, ROLES, OVERRIDE) are built when first looked up.

Every call takes the key prefix as ``ARGV[1]`` and builds key names as ``clues.keys``
does. The Lua never reads the Redis clock: times come in as arguments (event time for
upserts, the caller's clock for the rest), so it stays deterministic and testable.
Replies are flat arrays of strings: ``{'OK', ...}`` or ``{'ERR', CODE, ...}``.
"""

from __future__ import annotations

import hashlib
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


def _eager(name: str, sets: dict[str, tuple[str, ...]]) -> str:
    """``name[action]`` built whole: the library builds it once, when it loads (and a
    library has no ``setmetatable``)."""
    return f"local {name} = {_map({a: _set(x) for a, x in sets.items()})}"


def _list(names: tuple[str, ...]) -> str:
    return "{" + ", ".join(repr(n) for n in names) + "}"


def _tables(once: bool = False) -> str:
    t = TRANSITIONS
    per_action = _eager if once else _lazy
    return "\n".join(
        [
            per_action("SOURCES", {a: x.sources for a, x in t.items()}),
            f"local TARGET = {_map({a: repr(x.target) for a, x in t.items()})}",
            per_action("ROLES", {a: x.roles for a, x in t.items()}),
            f"local HOLDER = {_set(tuple(a for a, x in t.items() if x.holder))}",
            per_action("OVERRIDE", {a: x.override for a, x in t.items()}),
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


def _prelude(once: bool = False) -> str:
    return _tables(once) + "\n" + lua_source("views") + "\n" + lua_source("prelude")


PRELUDE = _prelude()
FUNCTIONS = ("upsert", "reap", "sla_step", "transition", "list")
_PER_CALL = "-- per call"


def _script(name: str) -> str:
    return "local ARGV = ARGV\n" + PRELUDE + "\n" + lua_source(name)


UPSERT = _script("upsert")
REAP = _script("reap")
SLA_STEP = _script("sla_step")
TRANSITION = _script("transition")
LIST = _script("list")


def _split(text: str) -> tuple[str, str]:
    """A file's definitions (run once, when the library loads) and its per-call part."""
    at = text.find("\n" + _PER_CALL)
    return ("", text) if at < 0 else (text[: at + 1], text[at + 1 :])


def _library() -> tuple[str, str]:
    """The library's digest and its text: the prelude, then each file in a block of its own
    (its definitions, and its per-call part as the body of the function registered)."""
    parts = []
    for name in FUNCTIONS:
        once, per_call = _split(lua_source(name))
        parts.append(
            f"do\n{once}\nredis.register_function('@_{name}', function(_, args)\n"
            f"start_call(args)\n{per_call}\nend)\nend"
        )
    body = "local ARGV = {}\n" + _prelude(once=True) + "\n" + "\n".join(parts)
    digest = hashlib.sha1(body.encode()).hexdigest()[:12]
    name = f"clues_{digest}"
    return name, f"#!lua name={name}\n" + body.replace("'@_", f"'{name}_")


LIBRARY_NAME, LIBRARY = _library()


def function_name(name: str) -> str:
    """The name under which the library registers the function of ``clues/lua/<name>.lua``."""
    if name not in FUNCTIONS:
        raise ValueError(f"no clue function {name!r}; the library has {', '.join(FUNCTIONS)}")
    return f"{LIBRARY_NAME}_{name}"
