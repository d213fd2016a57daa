"""What every rule type shares: group keys, per-rule state, building warnings."""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from typing import Any

from riskloop.events import Event, RiskWarning, stable_id
from rules.model import Rule


def group_key(rule: Rule, event: Event) -> str | None:
    """The rule's group key for an event, ``a|b`` over ``group_by``; None if a part is missing.

    >>> from rules.model import parse_rule
    >>> rule = parse_rule(
    ...     "id: r1\\ntitle: t\\ntype: threshold\\nmatch: {type: x.y}\\n"
    ...     "group_by: [region, attrs.item]\\nwindow: 1h\\ncondition: {gte: 2}\\n", "r.yaml")
    >>> ev = Event.from_dict({"id": "e", "type": "x.y", "stream": "service",
    ...     "ts": "2026-03-02T09:00:00+08:00", "source": "s", "region": "330106",
    ...     "department": "d", "entity": {"kind": "k", "id": "i"}, "attrs": {"item": "food"}})
    >>> group_key(rule, ev)
    '330106|food'
    """
    parts = []
    for path in rule.group_by:
        v = event.get(path)
        if v is None or v == "":
            return None
        parts.append(str(v))
    return "|".join(parts)


@dataclass
class RuleState:
    """All state of one rule in one engine: per-key objects plus one rule-wide model.

    ``dirty`` names the keys changed since the last checkpoint; ``model_dirty`` the model.
    """

    keys: dict[str, Any] = field(default_factory=dict)
    dirty: set[str] = field(default_factory=set)
    model: Any = None
    model_dirty: bool = False

    def put(self, key: str, value: Any) -> None:
        self.keys[key] = value
        self.dirty.add(key)

    def drop(self, key: str) -> None:
        if self.keys.pop(key, None) is not None:
            self.dirty.add(key)


class _Fields(string.Formatter):
    def get_value(self, key: Any, args: Any, kwargs: Any) -> Any:
        return kwargs.get(key, "{" + str(key) + "}")


_FMT = _Fields()


def render(template: str, values: dict[str, Any]) -> str:
    """Fill ``{name}`` placeholders; unknown names stay as written, bad templates stay as is."""
    try:
        return _FMT.format(template, **values)
    except (ValueError, IndexError):
        return template


def make_warning(
    rule: Rule,
    key: str,
    *,
    ts_ms: int,
    region: str,
    department: str,
    stage: str,
    episode_ms: int,
    value: float | None = None,
    window: tuple[int, int] | None = None,
    evidence: tuple[str, ...] = (),
) -> RiskWarning:
    """A warning whose id depends only on (rule, logic, key, stage, episode)."""
    names = {p.rsplit(".", 1)[-1]: v for p, v in zip(rule.group_by, key.split("|"), strict=False)}
    values = {"key": key, "value": value, "rule": rule.id, "stage": stage, **names}
    return RiskWarning(
        id=stable_id(rule.id, rule.logic_hash, key, stage, episode_ms, prefix="w-"),
        fingerprint=stable_id(rule.id, key, prefix="f-"),
        rule_id=rule.id,
        rule_version=rule.version,
        logic_hash=rule.logic_hash,
        severity=rule.severity,
        title=render(rule.output_title or rule.title, values),
        summary=render(rule.output_summary, values),
        key=key,
        ts_ms=ts_ms,
        region=region,
        department=department,
        stage=stage,
        value=value,
        window_start_ms=window[0] if window else None,
        window_end_ms=window[1] if window else None,
        tags=rule.tags,
        evidence=evidence,
    )
