"""A validated, immutable set of rules loaded from a folder (all or nothing)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from rules.errors import RuleError, RuleSetError
from rules.model import Rule, parse_rule


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]

    def __init__(self, rules: Iterable[Rule]) -> None:
        object.__setattr__(self, "rules", tuple(rules))

    def by_id(self, rule_id: str) -> Rule:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)


def load_rules(folder: str | Path) -> RuleSet:
    """Load every ``*.yaml`` rule in a folder. Any bad file rejects the whole set, with
    every error listed (``RuleSetError``); a set with one bad file never half-loads."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RuleSetError([RuleError(str(folder), 1, 1, "rules folder not found")])
    rules: list[Rule] = []
    errors: list[RuleError] = []
    seen: dict[str, str] = {}
    for path in sorted(folder.glob("*.yaml")):
        shown = str(path)
        try:
            rule = parse_rule(path.read_text(encoding="utf-8"), shown)
        except RuleError as exc:
            errors.append(exc)
            continue
        except UnicodeDecodeError:
            errors.append(RuleError(shown, 1, 1, "file is not UTF-8 text"))
            continue
        if rule.id in seen:
            errors.append(RuleError(shown, 1, 1, f"duplicate rule id {rule.id!r}, also in {seen[rule.id]}"))
            continue
        seen[rule.id] = shown
        rules.append(rule)
    if errors:
        raise RuleSetError(errors)
    return RuleSet(rules)
