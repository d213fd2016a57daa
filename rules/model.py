"""Rules as frozen, typed objects, parsed once from YAML. Nothing downstream sees a raw dict.

A rule file holds one rule. Common keys: ``id``, ``version``, ``title``, ``description``,
``status``, ``severity``, ``owner``, ``tags``, ``references``, ``type``, ``group_by``,
``output``; the rest depends on ``type`` (``threshold``, ``absence``, ``anomaly``).
Every error names ``file:line:col`` and says how to fix it.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from rules.errors import RuleError
from rules.operators import Selection, compile_selection, parse_duration_ms
from rules.yamlloc import LocDict, load_located

SEVERITIES = ("low", "medium", "high", "critical")
STATUSES = ("stable", "experimental", "deprecated")
COMMON_KEYS = {
    "id", "version", "title", "description", "status", "severity", "owner", "tags",
    "references", "type", "group_by", "output",
}  # fmt: skip
LOGIC_KEYS = ("type", "match", "group_by", "window", "aggregate", "condition", "min_events",
              "anchor", "deadline", "fulfilled_by", "detector", "features", "threshold")  # fmt: skip
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
COMPARATORS = ("gt", "gte", "lt", "lte", "eq")


@dataclass(frozen=True, slots=True)
class ThresholdSpec:
    match: Selection
    window_ms: int
    aggregate: str  # "count" | "distinct"
    field: str | None
    comparator: str
    limit: float
    min_events: int = 1


@dataclass(frozen=True, slots=True)
class AbsenceSpec:
    anchor: Selection
    fulfilled_by: Selection
    after_ms: int | None
    deadline_field: str | None
    deadline_unit_ms: int


@dataclass(frozen=True, slots=True)
class AnomalySpec:
    match: Selection
    detector: str
    params: tuple[tuple[str, Any], ...]
    features: tuple[str, ...]
    quantile: float
    min_samples: int
    cooldown_ms: int


Spec = ThresholdSpec | AbsenceSpec | AnomalySpec


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    version: int
    title: str
    type: str
    severity: str
    status: str
    group_by: tuple[str, ...]
    spec: Spec
    logic_hash: str
    path: str
    description: str = ""
    owner: str = ""
    tags: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    output_title: str = ""
    output_summary: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class _Reader:
    """Reads one mapping of a rule file, raising RuleError at the right position."""

    def __init__(self, node: Any, path: str, where: str = "rule") -> None:
        if not isinstance(node, dict):
            pos = getattr(node, "pos", (1, 1))
            raise RuleError(path, *pos, f"{where} must be a mapping of keys to values")
        self.node, self.path, self.where = node, path, where
        self.key_pos: dict[str, tuple[int, int]] = getattr(node, "key_pos", {})
        self.pos: tuple[int, int] = getattr(node, "pos", (1, 1))

    def fail(self, key: str | None, message: str) -> RuleError:
        line, col = self.key_pos.get(key, self.pos) if key else self.pos
        return RuleError(self.path, line, col, message)

    def only(self, allowed: set[str]) -> None:
        for key in self.node:
            if key not in allowed:
                hint = ", ".join(sorted(allowed))
                raise self.fail(key, f"unknown key {key!r} in {self.where}: allowed are {hint}")

    def get(self, key: str, default: Any = None, required: bool = False) -> Any:
        if key not in self.node or self.node[key] is None:
            if required:
                raise self.fail(None, f"{self.where} needs '{key}'")
            return default
        return self.node[key]

    def text(self, key: str, required: bool = False, default: str = "") -> str:
        v = self.get(key, default, required)
        if not isinstance(v, str):
            raise self.fail(key, f"'{key}' must be text")
        return v

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        v = self.get(key, default)
        if v not in choices:
            raise self.fail(key, f"'{key}' must be one of {', '.join(choices)}, got {v!r}")
        return str(v)

    def duration(self, key: str, required: bool = True) -> int | None:
        raw = self.get(key, required=required)
        if raw is None:
            return None
        ms = parse_duration_ms(raw)
        if ms is None:
            raise self.fail(key, f"'{key}' must be a duration like '10m', '1h' or '5d'")
        return ms

    def number(self, key: str, default: float | None = None, minimum: float = 0) -> float:
        v = self.get(key, default, required=default is None)
        if isinstance(v, bool) or not isinstance(v, int | float) or v < minimum:
            raise self.fail(key, f"'{key}' must be a number >= {minimum}, got {v!r}")
        return float(v)

    def selection(self, key: str) -> Selection:
        node = self.get(key, required=True)
        if not isinstance(node, dict) or not node:
            raise self.fail(key, f"'{key}' must be a mapping like {{type: application.accepted}}")
        return compile_selection(node, self.path)

    def strings(self, key: str, required: bool = False) -> tuple[str, ...]:
        v = self.get(key, [], required)
        if isinstance(v, str):
            v = [v]
        if not isinstance(v, list) or not all(isinstance(x, str) and x for x in v):
            raise self.fail(key, f"'{key}' must be a list of text values")
        return tuple(v)


def _threshold(r: _Reader) -> ThresholdSpec:
    r.only(COMMON_KEYS | {"match", "window", "aggregate", "condition", "min_events"})
    agg = r.get("aggregate", "count")
    field_path: str | None = None
    if isinstance(agg, dict) and set(agg) == {"distinct"} and isinstance(agg["distinct"], str):
        agg, field_path = "distinct", agg["distinct"]
    elif agg != "count":
        raise r.fail("aggregate", "'aggregate' must be 'count' or {distinct: attrs.field}")
    cond = _Reader(r.get("condition", required=True), r.path, "condition")
    if len(cond.node) != 1 or next(iter(cond.node)) not in COMPARATORS:
        raise cond.fail(None, f"condition must be one comparison, one of {', '.join(COMPARATORS)}")
    comparator = next(iter(cond.node))
    window_ms = r.duration("window")
    assert window_ms is not None
    return ThresholdSpec(
        match=r.selection("match"),
        window_ms=window_ms,
        aggregate=str(agg),
        field=field_path,
        comparator=comparator,
        limit=cond.number(comparator),
        min_events=int(r.number("min_events", 1, minimum=1)),
    )


def _absence(r: _Reader) -> AbsenceSpec:
    r.only(COMMON_KEYS | {"anchor", "deadline", "fulfilled_by"})
    d = _Reader(r.get("deadline", required=True), r.path, "deadline")
    d.only({"after", "field", "unit"})
    after_ms = d.duration("after", required=False)
    deadline_field = d.get("field")
    if (after_ms is None) == (deadline_field is None):
        raise d.fail(None, "deadline needs exactly one of 'after: 5d' or 'field: attrs.deadline_days'")
    unit_ms = parse_duration_ms("1" + str(d.get("unit", "d")))
    if unit_ms is None:
        raise d.fail("unit", "deadline 'unit' must be one of s, m, h, d, w")
    return AbsenceSpec(
        anchor=r.selection("anchor"),
        fulfilled_by=r.selection("fulfilled_by"),
        after_ms=after_ms,
        deadline_field=deadline_field,
        deadline_unit_ms=unit_ms,
    )


def _anomaly(r: _Reader) -> AnomalySpec:
    r.only(COMMON_KEYS | {"match", "detector", "features", "threshold"})
    det = _Reader(r.get("detector", required=True), r.path, "detector")
    det.only({"name", "params"})
    params = det.get("params", {})
    if not isinstance(params, dict):
        raise det.fail("params", "detector 'params' must be a mapping")
    thr = _Reader(r.get("threshold", {}), r.path, "threshold")
    thr.only({"quantile", "min_samples", "cooldown"})
    quantile = thr.number("quantile", 0.995)
    if not 0.5 <= quantile < 1:
        raise thr.fail("quantile", "threshold 'quantile' must be between 0.5 and 1, like 0.995")
    return AnomalySpec(
        match=r.selection("match"),
        detector=det.text("name", required=True),
        params=tuple(sorted(params.items())),
        features=r.strings("features", required=True),
        quantile=quantile,
        min_samples=int(thr.number("min_samples", 200, minimum=1)),
        cooldown_ms=thr.duration("cooldown", required=False) or 3_600_000,
    )


PARSERS = {"threshold": _threshold, "absence": _absence, "anomaly": _anomaly}


def logic_hash(node: dict[str, Any]) -> str:
    """Hash of the parts that decide what fires; wording and severity do not count."""
    logic = {k: node.get(k) for k in LOGIC_KEYS if k in node}
    blob = json.dumps(logic, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def parse_rule(text: str, path: str) -> Rule:
    """Parse one rule file's text; raises RuleError with ``path:line:col``."""
    node = load_located(text, path)
    if node is None:
        raise RuleError(path, 1, 1, "the file is empty: a rule file holds one rule mapping")
    r = _Reader(node, path)
    rule_id = r.text("id", required=True)
    if not _ID.match(rule_id):
        raise r.fail("id", f"id {rule_id!r} must be lowercase letters, digits and '-'")
    rtype = r.get("type", required=True)
    if rtype not in PARSERS:
        raise r.fail("type", f"unknown rule type {rtype!r}: use one of {', '.join(PARSERS)}")
    version = r.get("version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise r.fail("version", "'version' must be a whole number >= 1")
    spec = PARSERS[rtype](r)
    group_by = r.strings("group_by", required=True)
    output = _Reader(r.get("output", LocDict()), path, "output")
    output.only({"title", "summary"})
    return Rule(
        id=rule_id,
        version=version,
        title=r.text("title", required=True),
        type=rtype,
        severity=r.choice("severity", SEVERITIES, "medium"),
        status=r.choice("status", STATUSES, "stable"),
        group_by=group_by,
        spec=spec,
        logic_hash=logic_hash(node),
        path=path,
        description=r.text("description"),
        owner=r.text("owner"),
        tags=r.strings("tags"),
        references=r.strings("references"),
        output_title=output.text("title"),
        output_summary=output.text("summary"),
    )
