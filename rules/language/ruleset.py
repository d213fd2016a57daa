"""A validated, immutable set of rules loaded from a folder (all or nothing).

Layout of a rules folder:

- ``*.yaml`` at the top: one rule per file, except files holding only ``lists:`` and
  ``macros:`` (no ``id``), which are shared definitions (see :mod:`rules.language.shared`);
- ``*.yaml`` in subfolders (``lists/``, ``macros/``, ...): shared definitions;
- ``tests/``: rule unit tests (``riskloop rules test``), never loaded as rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rules.language.errors import RuleError, RuleSetError
from rules.language.model import Rule, parse_rule
from rules.language.shared import Shared, add_shared, is_shared
from rules.language.yamlloc import load_located
from rules.matching.expr_compile import Expr

TESTS_DIR = "tests"


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    lists: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    macros: Mapping[str, Expr] = field(default_factory=dict)

    def __init__(
        self,
        rules: Iterable[Rule],
        lists: Mapping[str, tuple[Any, ...]] | None = None,
        macros: Mapping[str, Expr] | None = None,
    ) -> None:
        object.__setattr__(self, "rules", tuple(rules))
        object.__setattr__(self, "lists", dict(lists or {}))
        object.__setattr__(self, "macros", dict(macros or {}))

    def by_id(self, rule_id: str) -> Rule:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)


def _read(path: Path, errors: list[RuleError]) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        errors.append(RuleError(str(path), 1, 1, "file is not UTF-8 text"))
    except OSError as exc:
        errors.append(RuleError(str(path), 1, 1, f"cannot read the file: {exc.strerror}"))
    return None


def _sort_files(
    folder: Path, errors: list[RuleError]
) -> tuple[list[tuple[Path, str]], list[tuple[Path, str]]]:
    """(rule files, shared files) with their text, in name order."""
    rule_files: list[tuple[Path, str]] = []
    shared_files: list[tuple[Path, str]] = []
    for path in sorted(folder.rglob("*.yml")):  # silently skipped, they would be a surprise
        rel = path.relative_to(folder).parts
        if TESTS_DIR not in rel[:-1] and not any(p.startswith(".") for p in rel):
            errors.append(
                RuleError(str(path), 1, 1, f"rule files end in .yaml: rename it {path.stem}.yaml")
            )
    for path in sorted(folder.rglob("*.yaml")):
        rel = path.relative_to(folder).parts
        if TESTS_DIR in rel[:-1] or any(p.startswith(".") for p in rel):
            continue
        text = _read(path, errors)
        if text is None:
            continue
        if len(rel) > 1:
            shared_files.append((path, text))
            continue
        try:
            node = load_located(text, str(path))
        except RuleError:
            node = None  # reported when parsed as a rule
        (shared_files if is_shared(node) else rule_files).append((path, text))
    return rule_files, shared_files


def load_rules(folder: str | Path) -> RuleSet:
    """Load every rule in a folder. Any bad file rejects the whole set, with every error
    listed (``RuleSetError``); a set with one bad file never half-loads."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RuleSetError([RuleError(str(folder), 1, 1, "rules folder not found")])
    errors: list[RuleError] = []
    rule_files, shared_files = _sort_files(folder, errors)
    shared = Shared()
    bad: set[Path] = set()
    for part in ("lists", "macros"):
        for path, text in shared_files:
            if path in bad:
                continue
            try:
                add_shared(shared, text, str(path), part)
            except RuleError as exc:
                errors.append(exc)
                bad.add(path)
    rules: list[Rule] = []
    seen: dict[str, str] = {}
    for path, text in rule_files:
        shown = str(path)
        try:
            rule = parse_rule(text, shown, shared.ctx(shown))
        except RuleError as exc:
            errors.append(exc)
            continue
        if rule.id in seen:
            line, col = rule.positions.get("id", (1, 1))
            errors.append(
                RuleError(
                    shown,
                    line,
                    col,
                    f"duplicate rule id {rule.id!r}, also in {seen[rule.id]}: "
                    "give each rule its own id",
                )
            )
            continue
        seen[rule.id] = shown
        rules.append(rule)
    if errors:
        raise RuleSetError(errors)
    return RuleSet(rules, shared.lists, shared.macros)
