"""The blocks every rule shares: severity tiers, output templates, suppression, resolve
and exceptions.

Examples:
    >>> from rules.language.fields import Ctx, Loc
    >>> from rules.language.yamlloc import load_located
    >>> raw = load_located("- {when: {gte: 100}, level: critical}\\n- {level: high}\\n", "r.yaml")
    >>> sev = SeverityKind().parse(raw, Loc("r.yaml", 1, 1), Ctx("r.yaml"))
    >>> sev.level_for(150.0), sev.level_for(99.0), sev.level_for(None)
    ('critical', 'high', 'high')
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from envelope.time import CST
from rules.language.fields import (
    Block,
    Choice,
    Ctx,
    Duration,
    Field,
    Flag,
    Kind,
    Loc,
    Many,
    Number,
    Path,
    Reader,
    Text,
)
from rules.language.valuekinds import DateKind, ExprKind, LimitsKind, SelectionKind, TemplateKind
from rules.matching.expr_compile import Expr
from rules.matching.selection import Selection
from rules.matching.templates import Template
from rules.types.aggregates import Limits

SEVERITIES = ("low", "medium", "high", "critical")
RANK = {s: i for i, s in enumerate(SEVERITIES)}


# --- severity -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Severity:
    """A fixed level, or tiers by value: the first tier whose ``when`` holds wins."""

    base: str
    tiers: tuple[tuple[Limits, str], ...] = ()

    def level_for(self, value: float | None) -> str:
        for limits, level in self.tiers:
            if limits.holds(value):
                return level
        return self.base


TIER = Block(
    "severity tier",
    (
        Field("when", LimitsKind(), doc="the value range of this tier, like {gte: 100}"),
        Field("level", Choice(SEVERITIES), required=True, doc="the severity of this tier"),
    ),
)


@dataclass(frozen=True)
class SeverityKind(Kind):
    def parse(self, raw: Any, loc: Loc, ctx: Ctx) -> Severity:
        if isinstance(raw, str):
            return Severity(Choice(SEVERITIES).parse(raw, loc, ctx))
        tiers = Many(TIER, single_ok=False).parse(raw, loc, ctx)
        *ranged, last = tiers
        if last["when"] is not None or any(t["when"] is None for t in ranged):
            raise loc.error(
                "severity tiers need a 'when' each, except the last one: the "
                "default, like {level: medium}"
            )
        return Severity(last["level"], tuple((t["when"], t["level"]) for t in ranged))

    def schema(self) -> dict[str, Any]:
        return {"oneOf": [{"enum": list(SEVERITIES)}, Many(TIER, single_ok=False).schema()]}


# --- output, suppress, resolve, exceptions -------------------------------------------------


@dataclass(frozen=True, slots=True)
class Output:
    title: Template | None = None
    summary: Template | None = None
    fields: tuple[str, ...] = ()
    top_fields: tuple[str, ...] = ()
    top_n: int = 5

    @property
    def paths(self) -> frozenset[str]:
        """Event fields the output reads from the triggering event."""
        out = set(self.fields)
        for t in (self.title, self.summary):
            if t is not None:
                out |= t.paths
        return frozenset(out)


def _output(v: dict[str, Any], r: Reader) -> Output:
    top = v["top_values"] or {}
    return Output(
        v["title"], v["summary"], v["fields"] or (), top.get("fields") or (), top.get("n") or 5
    )


TOP_VALUES = Block(
    "top_values",
    (
        Field(
            "fields",
            Many(Path()),
            required=True,
            doc="fields whose most frequent values in the window to list",
        ),
        Field("n", Number(1, 50, integer=True), default=5, doc="how many values per field"),
    ),
)
OUTPUT = Block(
    "output",
    (
        Field("title", TemplateKind(), doc="warning title, with {placeholders}", logic=False),
        Field("summary", TemplateKind(), doc="longer text for the clue", logic=False),
        Field("fields", Many(Path()), doc="event fields copied into the warning as evidence"),
        Field("top_values", TOP_VALUES, doc="most frequent values in the window (windowed rules)"),
    ),
    _output,
    doc="what the warning says",
)


@dataclass(frozen=True, slots=True)
class Suppress:
    for_ms: int
    key: Template | None = None
    escalate: bool = True


SUPPRESS = Block(
    "suppress",
    (
        Field(
            "for",
            Duration(),
            required=True,
            doc="after a warning, hold back the same dedup key this long (event time)",
        ),
        Field(
            "key", TemplateKind(), doc="dedup key template; default: the group key and the stage"
        ),
        Field("escalate", Flag(), default=True, doc="emit anyway when the severity rises"),
    ),
    lambda v, r: Suppress(v["for"], v["key"], v["escalate"]),
    doc="suppression per dedup key; what is held back is counted",
)


@dataclass(frozen=True, slots=True)
class Resolve:
    on: str
    keep_ms: int


RESOLVE = Block(
    "resolve",
    (
        Field(
            "on",
            Choice(("cleared", "fulfilled")),
            required=True,
            doc="cleared: the condition stops holding; fulfilled: the obligation is met",
        ),
        Field(
            "keep",
            Duration(),
            default="30d",
            doc="how long an open warning waits for its resolution",
        ),
    ),
    lambda v, r: Resolve(v["on"], v["keep"]),
    doc="emit a 'resolved' warning when the risk clears",
)


@dataclass(frozen=True, slots=True)
class Exemption:
    """An exception: matching events are ignored by the rule until ``expires`` (inclusive)."""

    name: str
    match: Selection | None
    where: Expr | None
    reason: str
    approved_by: str
    expires: date
    expires_ms: int

    def applies(self, event: Any) -> bool:
        if event.ts_ms >= self.expires_ms:
            return False
        if self.match is not None and not self.match.matches(event):
            return False
        return self.where is None or self.where.holds(event)


def _exemption(v: dict[str, Any], r: Reader) -> Exemption:
    if v["match"] is None and v["where"] is None:
        raise r.fail(
            None, f"exception {v['name']!r} needs 'match' or 'where' to say what it exempts"
        )
    end = datetime.combine(v["expires"] + timedelta(days=1), time(), CST)
    return Exemption(
        v["name"],
        v["match"],
        v["where"],
        v["reason"],
        v["approved_by"],
        v["expires"],
        int(end.timestamp() * 1000),
    )


EXCEPTION = Block(
    "exception",
    (
        Field("name", Text(), required=True, doc="a short name for the exception"),
        Field("match", SelectionKind(), doc="events it exempts"),
        Field("where", ExprKind(), doc="events it exempts (expression)"),
        Field("reason", Text(), required=True, doc="why these events are exempt"),
        Field("approved_by", Text(), required=True, doc="who approved the exception"),
        Field("expires", DateKind(), required=True, doc="last day it applies (event time, UTC+8)"),
    ),
    _exemption,
)
