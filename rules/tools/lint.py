"""Lints over a rules folder: a table of small functions, each finding one kind of issue.

Lints are separate from parse errors: a file can parse and still be wrong in a way the
engine cannot see (an expired exception, a window longer than the state is kept). Each
:class:`Issue` carries a severity (``error``, ``warning``, ``info``), a code and
``file:line:col``. Lints read the raw YAML (with positions) so they also work on rules
whose typed model is still changing, and they take today's date as an argument: they
never read the clock.

Examples:
    >>> from datetime import date
    >>> files = [RuleFile.from_text("a.yaml", "id: r1\\ntype: absence\\nstatus: experimental\\n")]
    >>> ctx = LintContext(files, today=date(2026, 3, 2), retention_ms=90 * 86_400_000)
    >>> [(i.line, i.severity, i.code) for i in run_lints(ctx)]
    [(2, 'error', 'absence-without-close')]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from envelope.time import DAY_MS, parse_duration_ms
from rules.language.model import Rule
from rules.language.yamlloc import load_located
from rules.tools.times import show_offset

SEVERITIES = ("error", "warning", "info")
DEFAULT_STATUS = "stable"
# Keys whose durations are not state a rule keeps (presentation, scheduling).
NOT_STATE = frozenset(("output", "exceptions", "schedule", "tests", "references", "tags"))
LIST_REF = re.compile(r"\$list:([A-Za-z0-9_.-]+)")


@dataclass(frozen=True, slots=True, order=True)
class Issue:
    path: str
    line: int
    col: int
    severity: str
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.severity}: {self.message} [{self.code}]"

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("path", "line", "col", "severity", "code", "message")}


@dataclass
class RuleFile:
    """One rule file: its raw YAML mapping with positions (None if unreadable), its text
    and its typed rule when it parsed."""

    path: str
    node: Any
    text: str = ""
    rule: Rule | None = None

    @classmethod
    def from_text(cls, path: str, text: str, rule: Rule | None = None) -> RuleFile:
        try:
            node = load_located(text, path)
        except ValueError:
            node = None
        return cls(path, node if isinstance(node, dict) else None, text, rule)

    @property
    def rule_id(self) -> str:
        return str(self.node.get("id", "")) if self.node else ""

    def pos(self, node: Any, key: str | None = None) -> tuple[int, int]:
        """Position of ``key`` in ``node`` (or of ``node``), defaulting to the file's start."""
        if key is not None and key in getattr(node, "key_pos", {}):
            return node.key_pos[key]
        return getattr(node, "pos", (1, 1))

    def issue(self, node: Any, key: str | None, severity: str, code: str, message: str) -> Issue:
        return Issue(self.path, *self.pos(node, key), severity, code, message)


@dataclass
class LintContext:
    """Everything lints may look at; ``today`` and ``retention_ms`` are arguments."""

    files: list[RuleFile]
    today: date
    retention_ms: int
    list_defs: dict[str, tuple[str, int, int]] = field(default_factory=dict)
    list_refs: set[str] = field(default_factory=set)
    macro_defs: dict[str, tuple[str, int, int]] = field(default_factory=dict)
    macro_refs: set[str] = field(default_factory=set)
    tested: set[str] = field(default_factory=set)


Lint = Callable[[LintContext], Iterable[Issue]]


def lint_duplicate_ids(ctx: LintContext) -> Iterator[Issue]:
    first: dict[str, RuleFile] = {}
    for rf in ctx.files:
        if not rf.rule_id:
            continue
        if rf.rule_id in first:
            other = first[rf.rule_id]
            line = other.pos(other.node, "id")[0]
            yield rf.issue(
                rf.node,
                "id",
                "error",
                "duplicate-id",
                f"rule id {rf.rule_id!r} is also used in {other.path}:{line}: "
                "give each rule its own id",
            )
        else:
            first[rf.rule_id] = rf


def lint_unused_lists(ctx: LintContext) -> Iterator[Issue]:
    for name, (path, line, col) in sorted(ctx.list_defs.items()):
        if name not in ctx.list_refs:
            yield Issue(
                path,
                line,
                col,
                "warning",
                "unused-list",
                f"list {name!r} is used by no rule: reference it as '$list:{name}' or delete it",
            )


def lint_unused_macros(ctx: LintContext) -> Iterator[Issue]:
    for name, (path, line, col) in sorted(ctx.macro_defs.items()):
        if name not in ctx.macro_refs:
            yield Issue(
                path,
                line,
                col,
                "info",
                "unused-macro",
                f"macro {name!r} is used by no rule: use it by name in a 'where' or delete it",
            )


# Keys whose duration is how long the rule keeps state (selections' values are not: a
# field compared with '999d' is data). A deadline in working days counts as calendar days.
HELD_FOR = frozenset(("window", "lookback", "within", "after", "forget_after"))


def _durations(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[Any, str, int]]:
    """``(mapping, key, ms)`` for every duration a rule keeps state for, outside NOT_STATE
    blocks."""
    if isinstance(node, dict):
        for key, value in node.items():
            if not path and key in NOT_STATE:
                continue
            if key in HELD_FOR and isinstance(value, str) and (ms := parse_duration_ms(value)):
                yield node, key, ms
            elif key == "workdays" and isinstance(value, int) and not isinstance(value, bool):
                yield node, key, -(-value * 7 // 5) * DAY_MS  # five working days a week
            yield from _durations(value, (*path, key))
    elif isinstance(node, list):
        for item in node:
            yield from _durations(item, path)


def lint_window_over_retention(ctx: LintContext) -> Iterator[Issue]:
    keep = show_offset(ctx.retention_ms)
    for rf in ctx.files:
        found = False
        for node, key, ms in _durations(rf.node):
            if ms > ctx.retention_ms:
                found = True
                yield rf.issue(
                    node,
                    key,
                    "error",
                    "window-over-retention",
                    f"'{key}' of {show_offset(ms)} is longer than the state retention of {keep}: "
                    "shorten it or raise the retention setting",
                )
        reach = getattr(rf.rule.spec, "history_ms", 0) if rf.rule is not None else 0
        if not found and isinstance(reach, int) and reach > ctx.retention_ms:
            key = "reference" if "reference" in rf.node else "window"
            yield rf.issue(
                rf.node,
                key,
                "error",
                "window-over-retention",
                f"the reference reaches back {show_offset(reach)}, longer than the state "
                f"retention of {keep}: use fewer or shorter periods, or raise the retention",
            )


def _floor(condition: Any, side: str) -> float:
    value = condition.get(f"{side}_gte") if isinstance(condition, dict) else None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def lint_spike_floors(ctx: LintContext) -> Iterator[Issue]:
    for rf in ctx.files:
        if not rf.node or rf.node.get("type") != "spike":
            continue
        condition = rf.node.get("condition")
        for side in ("current", "reference"):
            if _floor(condition, side) <= 0:
                where = condition if isinstance(condition, dict) else rf.node
                key = f"{side}_gte" if f"{side}_gte" in where else None
                yield rf.issue(
                    where if key or where is not rf.node else rf.node,
                    key if key else ("type" if where is rf.node else None),
                    "warning",
                    "spike-without-floors",
                    f"spike rule {rf.rule_id!r} has no floor on the {side} count: add "
                    f"'{side}_gte: N' (N > 0) to its condition so tiny numbers do not fire",
                )


def lint_fewer_than(ctx: LintContext) -> Iterator[Issue]:
    """Say when a "fewer than" threshold starts judging a key, and that it fires on zero."""
    from rules.types.threshold import ThresholdSpec
    from rules.types.windowed import fewer_than

    for rf in ctx.files:
        spec = rf.rule.spec if rf.rule is not None else None
        if not isinstance(spec, ThresholdSpec) or not rf.node:
            continue
        if not fewer_than(spec.aggregate.make(), spec.condition):
            continue
        window = show_offset(spec.window_ms)
        zero = (
            "to zero too when its events stop"
            if spec.min_events in (None, 0)
            else f"while at least {spec.min_events} events are in the window"
        )
        yield rf.issue(
            rf.node,
            "condition" if "condition" in rf.node else "type",
            "info",
            "fewer-than",
            f"threshold rule {rf.rule_id!r} fires on 'fewer than' ({spec.condition.text()}):"
            f" a key is judged only once it has been watched for a whole window ({window})"
            f" from its first event, then whenever the count dips, {zero}",
        )


CLOSERS = ("fulfilled_by", "cancelled_by", "heartbeat")


def lint_absence_close(ctx: LintContext) -> Iterator[Issue]:
    for rf in ctx.files:
        node = rf.node
        if not node or node.get("type") != "absence" or any(k in node for k in CLOSERS):
            continue
        yield rf.issue(
            node,
            "anchor" if "anchor" in node else "type",
            "error",
            "absence-without-close",
            f"absence rule {rf.rule_id!r} has no closing event: add 'fulfilled_by: "
            "{type: ...}' (or 'cancelled_by') so obligations can be met",
        )


def lint_stable_untested(ctx: LintContext) -> Iterator[Issue]:
    for rf in ctx.files:
        if not rf.node or not rf.rule_id:
            continue
        if rf.node.get("status", DEFAULT_STATUS) != "stable":
            continue
        stem = rf.path.replace("\\", "/").rsplit("/", 1)[-1].rsplit(".", 1)[0]
        if rf.rule_id not in ctx.tested and stem not in ctx.tested:
            yield rf.issue(
                rf.node,
                "status" if "status" in rf.node else "id",
                "warning",
                "stable-without-test",
                f"stable rule {rf.rule_id!r} has no test in tests/: add tests/{stem}.yaml "
                "(see 'riskloop rules test') or set 'status: experimental'",
            )


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def lint_expired_exceptions(ctx: LintContext) -> Iterator[Issue]:
    for rf in ctx.files:
        items = rf.node.get("exceptions") if rf.node else None
        for i, exc in enumerate(items if isinstance(items, list) else []):
            if not isinstance(exc, dict) or "expires" not in exc:
                continue
            name = exc.get("name", f"#{i + 1}")
            expires = _as_date(exc["expires"])
            if expires is None:
                yield rf.issue(
                    exc,
                    "expires",
                    "error",
                    "expired-exception",
                    f"exception {name!r}: 'expires' must be a date like 2026-12-31",
                )
            elif expires < ctx.today:
                yield rf.issue(
                    exc,
                    "expires",
                    "warning",
                    "expired-exception",
                    f"exception {name!r} expired on {expires} (today is {ctx.today}): "
                    "renew it with a new approval and date, or delete it",
                )


# The lint table: code -> function. Order is the order of the report within one position.
LINTS: dict[str, Lint] = {
    "duplicate-id": lint_duplicate_ids,
    "unused-list": lint_unused_lists,
    "unused-macro": lint_unused_macros,
    "window-over-retention": lint_window_over_retention,
    "spike-without-floors": lint_spike_floors,
    "fewer-than": lint_fewer_than,
    "absence-without-close": lint_absence_close,
    "stable-without-test": lint_stable_untested,
    "expired-exception": lint_expired_exceptions,
}


def run_lints(ctx: LintContext, ignore: Iterable[str] = ()) -> list[Issue]:
    """Every lint of the table except those in ``ignore``; issues sorted by file and line."""
    skip = set(ignore)
    issues = [i for code, lint in LINTS.items() if code not in skip for i in lint(ctx)]
    return sorted(issues)
