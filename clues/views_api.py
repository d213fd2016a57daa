"""The supervisor's views as JSON under ``/views/…`` (for the overview page and Grafana).

Same tokens as every endpoint; every number is summed over the counters the caller's
departments and regions cover, so a district supervisor sees their district only. Periods
are local days (UTC+8) of the warnings' event time: ``from`` and ``to`` as ``YYYY-MM-DD`` or
epoch ms (Grafana's ``${__from}`` and ``${__to}``); without them, the 30 days ending on the
newest day anything was counted. Each view compares with the period of the same length
just before. Rows are flat JSON arrays, so Grafana's Infinity data source reads them as
tables. Keys of recurring subjects are shown pseudonymised (``clues.privacy``).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import Path, Query, Request
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from clues import replies
from clues.listing import ListQuery
from clues.privacy import PERSONAL_KEY_PARTS, Masker
from clues.routes import Who
from clues.store import ClueStore
from clues.views import (
    DIMENSIONS,
    Counters,
    Filters,
    Period,
    ViewStore,
    change_pct,
    day_date,
)
from envelope import keyparts
from envelope.time import CST_OFFSET_MS, DAY_MS, local_date

log = logging.getLogger(__name__)

OFFICIAL_FIELDS = frozenset(("official", "approver", "account", "staff", "officer", "inspector"))
From = Annotated[str | None, Query(alias="from", max_length=20, description="YYYY-MM-DD or ms")]
To = Annotated[str | None, Query(alias="to", max_length=20, description="YYYY-MM-DD or epoch ms")]
Region = Annotated[str | None, Query(max_length=12, description="region code prefix")]
Dept = Annotated[str | None, Query(max_length=100)]
Rule = Annotated[str | None, Query(max_length=200)]
Severity = Annotated[str | None, Query(max_length=20)]


def _store(request: Request) -> ClueStore:
    store: ClueStore = request.app.state.store
    return store


def _views(request: Request) -> ViewStore:
    store = _store(request)
    return ViewStore(store.redis, store.prefix)


async def _period(request: Request, start: str | None, end: str | None) -> Period:
    if start and end:
        return Period.parse(start, end)
    newest = await _views(request).newest_day()
    last = newest or local_date(int(request.app.state.clock()))
    if end:
        last = Period.parse(end, end).last
    if start:
        return Period.parse(start, last.isoformat())
    return Period.ending(last)


def _midnight_ms(day: int) -> int:
    return day * DAY_MS - CST_OFFSET_MS


async def _two(
    request: Request, who: Who, start: str | None, end: str | None, filters: Filters
) -> tuple[Period, Counters, Counters]:
    period = await _period(request, start, end)
    views = _views(request)
    now = await views.counters(period, who, filters)
    before = await views.counters(period.previous(), who, filters)
    return period, now, before


async def summary(
    request: Request,
    who: Who,
    start: From = None,
    end: To = None,
    region: Region = None,
    department: Dept = None,
    rule: Rule = None,
    severity: Severity = None,
) -> dict[str, Any]:
    """Totals of the period against the previous one, precision, and the red clues now."""
    f = Filters.of(region, department, rule, severity)
    period, now, before = await _two(request, who, start, end, f)
    outcomes = now.per("o", 4)
    judged = outcomes.get("confirmed", 0) + outcomes.get("dismissed", 0)
    red = await _red(request, who, 1000, f)
    return {
        **period.to_dict(),
        "previous_from": period.previous().first.isoformat(),
        "previous_to": period.previous().last.isoformat(),
        "warnings": now.total("w"),
        "clues": now.total("c"),
        "previous_warnings": before.total("w"),
        "previous_clues": before.total("c"),
        "warnings_change_pct": change_pct(now.total("w"), before.total("w")),
        "closed": sum(outcomes.values()),
        "confirmed": outcomes.get("confirmed", 0),
        "precision": round(outcomes.get("confirmed", 0) / judged, 3) if judged else None,
        "red": len(red),
    }


async def daily(
    request: Request,
    who: Who,
    start: From = None,
    end: To = None,
    region: Region = None,
    department: Dept = None,
    rule: Rule = None,
    severity: Severity = None,
) -> list[dict[str, Any]]:
    """One row per day: warnings, clues opened, and the same day of the previous period."""
    f = Filters.of(region, department, rule, severity)
    period, now, before = await _two(request, who, start, end, f)
    w, c, pw = now.per_day("w"), now.per_day("c"), before.per_day("w")
    shift = period.days
    return [
        {
            "day": day_date(d).isoformat(),
            "time": _midnight_ms(d),
            "warnings": w.get(d, 0),
            "clues": c.get(d, 0),
            "previous_warnings": pw.get(d - shift, 0),
        }
        for d in period.numbers()
    ]


async def breakdown(
    request: Request,
    who: Who,
    dimension: Annotated[str, Path(pattern="^(region|department|rule|severity)$")],
    start: From = None,
    end: To = None,
    region: Region = None,
    department: Dept = None,
    rule: Rule = None,
    severity: Severity = None,
) -> list[dict[str, Any]]:
    """Warnings and clues per region, department, rule or severity, most first, with the
    previous period's warnings and the change."""
    f = Filters.of(region, department, rule, severity)
    _, now, before = await _two(request, who, start, end, f)
    i = DIMENSIONS[dimension]
    w, c, pw = now.per("w", i), now.per("c", i), before.per("w", i)
    rows = [
        {
            "name": name,
            "warnings": w.get(name, 0),
            "clues": c.get(name, 0),
            "previous_warnings": pw.get(name, 0),
            "change_pct": change_pct(w.get(name, 0), pw.get(name, 0)),
        }
        for name in set(w) | set(pw)
    ]
    return sorted(rows, key=lambda r: (-r["warnings"], -r["previous_warnings"], r["name"]))


async def precision(
    request: Request,
    who: Who,
    start: From = None,
    end: To = None,
    region: Region = None,
    department: Dept = None,
) -> list[dict[str, Any]]:
    """Per rule: clues first warned in the period and closed since, by verdict; precision =
    confirmed / (confirmed + dismissed)."""
    period = await _period(request, start, end)
    counters = await _views(request).counters(period, who, Filters.of(region, department))
    per: dict[str, dict[str, int]] = {}
    for _, row, n in counters.rows("o"):
        per.setdefault(row[3], {})[row[4]] = per.setdefault(row[3], {}).get(row[4], 0) + n
    out = []
    for rule_id, by in sorted(per.items()):
        confirmed, dismissed = by.get("confirmed", 0), by.get("dismissed", 0)
        judged = confirmed + dismissed
        out.append(
            {
                "rule": rule_id,
                "closed": sum(by.values()),
                "confirmed": confirmed,
                "dismissed": dismissed,
                "precision": round(confirmed / judged, 3) if judged else None,
            }
        )
    return out


# --- recurring subjects ---------------------------------------------------------------------


@functools.cache
def rule_keys() -> Mapping[str, tuple[str, ...]]:
    """rule id → its ``group_by`` fields, from the rule set the deployment runs (empty when
    it cannot be read: every subject then counts as an entity, shown pseudonymised)."""
    from envelope.settings import Settings
    from rules.language.ruleset import load_rules

    try:
        return {r.id: r.group_by for r in load_rules(Settings.from_env().rules_dir).rules}
    except Exception as exc:  # noqa: BLE001 - the views still work without the rule set
        log.warning("supervisor views: cannot read the rule set (%s): subjects unclassified", exc)
        return {}


def _last(field: str) -> str:
    return field.rsplit(".", 1)[-1].lower()


def subject_kind(group_by: tuple[str, ...] | None) -> str | None:
    """``officials`` (keyed by an official or staff account), ``entities`` (enterprises,
    applicants, addresses, accounts …) or None: a rule keyed by an area (see the region
    view), a case (``application_id``, ``inspection_id``: one case, not someone coming back)
    or a system (a data feed).

    >>> subject_kind(("attrs.official",)), subject_kind(("entity.id",))
    ('officials', 'entities')
    >>> subject_kind(("attrs.application_id",)), subject_kind(("region", "attrs.category"))
    (None, None)
    """
    if group_by is None:
        return "entities"
    if any(_last(f) in OFFICIAL_FIELDS for f in group_by):
        return "officials"
    if "region" in group_by or any(_not_a_subject(f) for f in group_by):
        return None
    return "entities"


def _not_a_subject(field: str) -> bool:
    return field != "entity.id" and (_last(field).endswith("_id") or _last(field) == "feed")


def masked_key(masker: Masker, key: str, group_by: tuple[str, ...] | None) -> str:
    """The key with personal parts pseudonymised (the whole key when its parts are unknown)."""
    parts = keyparts.split(key)
    if group_by is None or len(parts) != len(group_by):
        return masker.pseudonym(key)
    out = [
        masker.pseudonym(p) if _last(f) in PERSONAL_KEY_PARTS | OFFICIAL_FIELDS else p
        for p, f in zip(parts, group_by, strict=True)
    ]
    return masker.text(keyparts.join(out), ())


async def recurring(
    request: Request,
    who: Who,
    kind: Annotated[str, Path(pattern="^(entities|officials)$")],
    start: From = None,
    end: To = None,
    region: Region = None,
    department: Dept = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 10,
) -> list[dict[str, Any]]:
    """The subjects (enterprises, applicants, addresses … or officials and staff accounts)
    that came back on the most days of the period, then by warnings."""
    period = await _period(request, start, end)
    subjects = await _views(request).subjects(period, who, Filters.of(region, department))
    masker, known = await _store(request).masker(), rule_keys()
    rows = []
    for (rule_id, key), s in subjects.items():
        group_by = known.get(rule_id)
        if subject_kind(group_by) != kind:
            continue
        rows.append(
            {
                "subject": masked_key(masker, key, group_by),
                "rule": rule_id,
                "days": len(s["days"]),
                "warnings": s["warnings"],
                "first_day": day_date(min(s["days"])).isoformat(),
                "last_day": day_date(max(s["days"])).isoformat(),
                "regions": ", ".join(sorted(s["regions"])),
                "departments": ", ".join(sorted(s["departments"])),
            }
        )
    rows.sort(key=lambda r: (-r["days"], -r["warnings"], r["subject"]))
    return rows[:limit]


# --- overdue --------------------------------------------------------------------------------


async def _red(
    request: Request, who: Who, limit: int, f: Filters, colour: str = "red"
) -> list[dict[str, Any]]:
    store = _store(request)
    q = ListQuery(colour=colour, sort="due", department=f.department, region=f.region)
    out: list[dict[str, Any]] = []
    cursor: str | None = None
    while len(out) < limit:
        page, cursor = await store.list(limit=min(500, limit), cursor=cursor, query=q, who=who)
        out.extend(c.to_dict() for c in page if not f.rule or c.rule_id == f.rule)
        if cursor is None:
            break
    return out[:limit]


async def overdue(
    request: Request,
    who: Who,
    colour: Annotated[str, Query(pattern="^(red|yellow)$")] = "red",
    region: Region = None,
    department: Dept = None,
    rule: Rule = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[dict[str, Any]]:
    """Clues past their deadline (red; ``colour=yellow``: due today), the longest overdue
    first, each with a link to it on the inspector page."""
    clues = await _red(request, who, limit, Filters.of(region, department, rule), colour)
    masker, now = await _store(request).masker(), int(request.app.state.clock())
    rows = []
    for c in clues:
        m = masker.clue(c)
        due = c.get("due_ms")
        rows.append(
            {
                "id": c["id"],
                "title": m.get("title") or c["rule_id"],
                "rule": c["rule_id"],
                "severity": c["severity"],
                "status": c["status"],
                "region": c["region"],
                "department": c["department"],
                "claimed_by": c.get("claimed_by") or "",
                "due_ms": due,
                "overdue_days": round((now - due) / DAY_MS, 1) if due else None,
                "ticket_id": c.get("ticket_id") or "",
                "link": f"/ui#clue={c['id']}",
            }
        )
    return rows


VIEWS = replies.responses(401, 403, 422, 503)  # what a view really answers
ROUTES: list[BaseRoute] = [
    APIRoute("/views/summary", summary, methods=["GET"], tags=["views"], responses=VIEWS),
    APIRoute("/views/daily", daily, methods=["GET"], tags=["views"], responses=VIEWS),
    APIRoute("/views/by/{dimension}", breakdown, methods=["GET"], tags=["views"], responses=VIEWS),
    APIRoute("/views/precision", precision, methods=["GET"], tags=["views"], responses=VIEWS),
    APIRoute(
        "/views/recurring/{kind}", recurring, methods=["GET"], tags=["views"], responses=VIEWS
    ),
    APIRoute("/views/overdue", overdue, methods=["GET"], tags=["views"], responses=VIEWS),
]
