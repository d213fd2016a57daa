"""``rules check DIR``: load a whole rules folder, list every parse error, then run the lints.

Parse errors come from the loader itself (``rules.load_rules``), so what ``check`` accepts
is exactly what the worker accepts; each is ``file:line:col: message``. Lints
(:mod:`rules.tools.lint`) follow, each with a severity.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from rules import RuleError, RuleSetError, load_rules
from rules.language.model import Rule, parse_rule
from rules.language.shared import is_shared
from rules.tools.lint import LIST_REF, SEVERITIES, Issue, LintContext, RuleFile, run_lints

TESTS_DIR = "tests"
# A little over a year: yearly windows (shell-company signals) fit; see --retention.
DEFAULT_RETENTION_MS = 400 * 86_400_000


@dataclass
class CheckReport:
    folder: str
    rules: int = 0
    errors: list[RuleError] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)

    def count(self, severity: str) -> int:
        return sum(i.severity == severity for i in self.issues)

    def failed(self, fail_on: str = "error") -> bool:
        """True on any parse error or any issue at least as severe as ``fail_on``."""
        worst = SEVERITIES[: SEVERITIES.index(fail_on) + 1]
        return bool(self.errors) or any(i.severity in worst for i in self.issues)


def check_folder(
    folder: str | Path, today: date, retention_ms: int = DEFAULT_RETENTION_MS
) -> CheckReport:
    """Load ``folder`` like the worker does and lint it; never raises for bad rules."""
    folder = Path(folder)
    report = CheckReport(str(folder))
    if not folder.is_dir():
        report.errors.append(
            RuleError(
                str(folder), 1, 1, "rules folder not found: give the folder holding the rule files"
            )
        )
        return report
    loaded: dict[str, Rule] = {}
    try:
        loaded = {str(Path(r.path).resolve()): r for r in load_rules(folder).rules}
    except RuleSetError as exc:
        report.errors.extend(exc.errors)
    files, shared = _read_files(folder, loaded, bool(report.errors))
    report.rules = sum(rf.rule is not None for rf in files)
    ctx = LintContext(files, today=today, retention_ms=retention_ms)
    for rf in [*files, *shared]:
        ctx.list_refs.update(LIST_REF.findall(rf.text))
        parsed = getattr(rf, "rule", None)
        if parsed is not None:  # a list a rule uses without naming it (address_prefixes)
            ctx.list_refs.update(parsed.lists_used)
        ctx.list_defs.update(_defs(rf, "lists"))
        ctx.macro_defs.update(_defs(rf, "macros"))
    ctx.macro_refs = _macro_refs(files, shared, set(ctx.macro_defs))
    ctx.tested = _tested(folder / TESTS_DIR)
    report.issues = run_lints(ctx)
    report.errors = _without_duplicate_ids(report.errors, report.issues)
    return report


def _read_files(
    folder: Path, loaded: dict[str, Rule], reparse: bool
) -> tuple[list[RuleFile], list[RuleFile]]:
    """Rule files (top-level ``*.yaml``) and shared files (lists, macros: anywhere but tests/)."""
    rules: list[RuleFile] = []
    shared: list[RuleFile] = []
    for path in sorted(folder.rglob("*.yaml")):
        rel = path.relative_to(folder).parts
        if TESTS_DIR in rel[:-1] or any(p.startswith(".") for p in rel):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        rule = loaded.get(str(path.resolve()))
        if rule is None and reparse and len(rel) == 1:
            rule = _try_parse(text, str(path))
        rf = RuleFile.from_text(str(path), text, rule)
        is_rule = len(rel) == 1 and not is_shared(rf.node)
        (rules if is_rule else shared).append(rf)
    return rules, shared


def _try_parse(text: str, path: str) -> Rule | None:
    try:
        return parse_rule(text, path)
    except RuleError:
        return None


def _defs(rf: RuleFile, kind: str) -> dict[str, tuple[str, int, int]]:
    """Names defined under ``lists:`` or ``macros:`` of a shared file, with positions."""
    named = rf.node.get(kind) if rf.node else None
    if not isinstance(named, dict):
        return {}
    return {str(name): (rf.path, *rf.pos(named, name)) for name in named}


def _macro_refs(files: list[RuleFile], shared: list[RuleFile], names: set[str]) -> set[str]:
    """Macro names that appear as words in a rule file or in another macro's expression."""
    texts = [rf.text for rf in files]
    for rf in shared:
        macros = rf.node.get("macros") if rf.node else None
        for name, body in macros.items() if isinstance(macros, dict) else ():
            expr = body.get("expr") if isinstance(body, dict) else body
            texts.append(f"{name}: {expr}")
    found = set()
    for name in names:
        word = re.compile(rf"(?<![\w.$]){re.escape(name)}(?![\w.])")
        if any(len(word.findall(t)) > t.startswith(f"{name}: ") for t in texts):
            found.add(name)
    return found


def _tested(tests_dir: Path) -> set[str]:
    """Names a test file covers: its own name (``x.yaml``, ``x.test.yaml`` -> ``x``) and the
    rule ids its expectations name."""
    out: set[str] = set()
    if not tests_dir.is_dir():
        return out
    for path in sorted(tests_dir.rglob("*")):
        if path.suffix not in (".yaml", ".yml"):
            continue
        out.add(path.name.split(".", 1)[0])
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, yaml.YAMLError):  # the test runner reports it
            continue
        for test in _list(doc, "tests"):
            for check in _list(test, "expect"):
                out.update(
                    str(w["rule"])
                    for w in _list(check, "warnings")
                    if isinstance(w, dict) and "rule" in w
                )
    return out


def _list(node: Any, key: str) -> list[Any]:
    value = node.get(key) if isinstance(node, dict) else None
    return value if isinstance(value, list) else []


def _without_duplicate_ids(errors: list[RuleError], issues: list[Issue]) -> list[RuleError]:
    """The loader also rejects duplicate ids; the lint says it better, so keep one."""
    dup_files = {i.path for i in issues if i.code == "duplicate-id"}
    return [
        e
        for e in errors
        if not (e.path in dup_files and "duplicate" in e.message and "id" in e.message)
    ]


def format_text(report: CheckReport, fail_on: str = "error") -> str:
    lines = [str(e) for e in sorted(report.errors, key=lambda e: (e.path, e.line, e.col))]
    lines += [str(i) for i in report.issues]
    plural = {"error": "errors", "warning": "warnings", "info": "info"}
    counts = ", ".join(f"{report.count(s)} {plural[s]}" for s in SEVERITIES)
    verdict = "FAILED" if report.failed(fail_on) else "ok"
    lines.append(
        f"{report.folder}: {report.rules} rules loaded, "
        f"{len(report.errors)} parse errors, {counts}: {verdict}"
    )
    return "\n".join(lines)


def format_json(report: CheckReport, fail_on: str = "error") -> str:
    doc = {
        "folder": report.folder,
        "rules": report.rules,
        "ok": not report.failed(fail_on),
        "errors": [
            {"path": e.path, "line": e.line, "col": e.col, "message": e.message}
            for e in report.errors
        ],
        "issues": [i.to_dict() for i in report.issues],
    }
    return json.dumps(doc, ensure_ascii=False, indent=2)
