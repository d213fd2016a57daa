"""Run rule unit tests: events in at virtual times, expected warnings out (``rules test``).

Semantics of one test: its ``seed`` events (if any) are learned silently, as a deployment
seeded from a replay; its inputs are applied to the same fresh engine in time order (file
order for equal times). At each ``expect`` time ``T`` every input at or before ``T`` has
been processed, the watermark moves to ``T``, and the warnings emitted since the previous
check (or the start) must be exactly the expected ones:

- identity (``rule``, ``key``, ``stage``) must match exactly;
- any other field given must match as a subset: ``re:…`` searches, numbers compare by
  value, lists and mappings (``details: {suppressed: 2}``) are subsets;
- ``warnings: []`` asserts that nothing fired;
- a warning nobody expected fails the test.

Examples:
    >>> spec = load_test_spec('''
    ... rules: .
    ... tests:
    ...   - name: two within an hour
    ...     start: '2026-03-02T09:00:00+08:00'
    ...     input:
    ...       - {at: +0m, type: a.b, k: x, repeat: {every: 10m, times: 2}}
    ...     expect:
    ...       - {at: +30m, warnings: [{rule: pair, key: x, value: 2}]}
    ... ''', "t.yaml")
    >>> from rules.language.model import parse_rule
    >>> rule = parse_rule("id: pair\\ntitle: t\\ntype: threshold\\nmatch: {type: a.b}\\n"
    ...     "group_by: [attrs.k]\\nwindow: 1h\\ncondition: {gte: 2}\\n", "pair.yaml")
    >>> result = run_test(RuleSet([rule]), spec.tests[0])
    >>> result.ok, result.problems
    (True, [])
"""

from __future__ import annotations

import glob
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from envelope.events import RiskWarning
from rules import RuleError, RuleSet, RuleSetError, load_rules
from rules.engine.engine import Engine
from rules.language.model import Rule, parse_rule
from rules.tools.compare import compare
from rules.tools.testfile import RuleTest, RuleTestSpec, TestFileError, load_test_spec
from rules.tools.times import show_at


@dataclass
class CaseResult:
    """One test case: its name and the problems found (none: it passed)."""

    name: str
    problems: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class FileResult:
    """One test file: its cases' results, or the errors that kept it from running."""

    path: str
    results: list[CaseResult] = field(default_factory=list)
    errors: list[RuleError] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def failed(self) -> int:
        return sum(not r.ok for r in self.results)


def run_test(ruleset: RuleSet, test: RuleTest, lateness_ms: int = 0) -> CaseResult:
    """Run one test case against a fresh engine over ``ruleset``."""
    started = time.monotonic()
    result = CaseResult(test.name)
    per_check = emitted_per_check(ruleset, test, lateness_ms)
    known = {r.id for r in ruleset.rules}
    for i, (check, emitted) in enumerate(zip(test.checks, per_check, strict=True)):
        problems = [
            f"line {w.line}: no rule {w.rule!r} is loaded in this test file"
            for w in check.warnings
            if w.rule not in known
        ]
        elsewhere = [w for j, ws in enumerate(per_check) if j != i for w in ws]
        problems += compare(check.warnings, emitted, elsewhere)
        if problems:
            header = f"at {show_at(check.at_ms, test.start_ms)} (line {check.line}):"
            result.problems.append("\n".join([header, *("  " + p for p in problems)]))
    result.elapsed_s = time.monotonic() - started
    return result


def emitted_per_check(
    ruleset: RuleSet, test: RuleTest, lateness_ms: int = 0
) -> list[list[RiskWarning]]:
    """The warnings a fresh engine emits up to each check time, since the previous one.

    Seed events (``seed:``) are learned first without emitting anything, like a
    deployment seeded from a replay.
    """
    engine = Engine(ruleset, lateness_ms=lateness_ms)
    if test.seed:
        engine.seed(i.event for i in sorted(test.seed, key=lambda i: i.at_ms))
    inputs = sorted(test.inputs, key=lambda i: i.at_ms)
    out: list[list[RiskWarning]] = []
    pos = 0
    for check in test.checks:
        emitted: list[RiskWarning] = []
        while pos < len(inputs) and inputs[pos].at_ms <= check.at_ms:
            emitted.extend(engine.process(inputs[pos].event))
            pos += 1
        # every event up to the check time is in: the windows ending at it are final
        emitted.extend(engine.advance_to(check.at_ms + 1))
        out.append(emitted)
    return out


def load_test_rules(spec: RuleTestSpec) -> RuleSet:
    """The rules a test file names, relative to the file; raises RuleSetError."""
    base = Path(spec.path).parent
    if spec.rules_dir is not None:
        folder = base / spec.rules_dir
        if not folder.is_dir():
            message = (
                f"rules folder {spec.rules_dir!r} not found: paths are relative to the test file"
            )
            raise RuleSetError([RuleError(spec.path, spec.rules_line, 1, message)])
        return load_rules(folder)
    wanted: list[Path] = []
    for pattern in spec.rule_files:
        if any(c in pattern for c in "*?["):  # relative or absolute, like a shell would
            found = sorted(Path(p) for p in glob.glob(str(base / pattern)))
        else:
            found = [base / pattern]
        missing = [p for p in found if not p.is_file()] or ([] if found else [base / pattern])
        if missing:
            message = f"rule file {pattern!r} not found: paths are relative to the test file"
            raise RuleSetError([RuleError(spec.path, spec.rules_line, 1, message)])
        wanted.extend(found)
    return RuleSet(_rules_from_files(wanted))


def _rules_from_files(paths: Sequence[Path]) -> list[Rule]:
    """Load each file's folder as a set (lists and macros resolve there) and keep the named
    files; if a sibling file is broken, parse the named files on their own."""
    wanted = {p.resolve() for p in paths}
    rules: list[Rule] = []
    for folder in sorted({p.parent.resolve() for p in paths}):
        try:
            ruleset = load_rules(folder)
            rules.extend(r for r in ruleset.rules if Path(r.path).resolve() in wanted)
            continue
        except RuleSetError as exc:
            mine = [e for e in exc.errors if Path(e.path).resolve() in wanted]
            if mine:
                raise RuleSetError(mine) from None
        errors = []
        for p in sorted(x for x in wanted if x.parent == folder):
            try:
                rules.append(parse_rule(p.read_text(encoding="utf-8"), str(p)))
            except RuleError as err:
                errors.append(err)
        if errors:
            raise RuleSetError(errors)
    return rules


def run_file(path: str | Path, name_filter: str | None = None) -> FileResult:
    """Load and run one test file; ``name_filter`` (a regex) selects tests by name."""
    started = time.monotonic()
    result = FileResult(str(path))
    try:
        spec = load_test_spec(Path(path).read_text(encoding="utf-8"), str(path))
        ruleset = load_test_rules(spec)
    except (TestFileError, RuleError) as exc:
        result.errors.append(exc)
        return result
    except RuleSetError as exc:
        result.errors.extend(exc.errors)
        return result
    except (OSError, UnicodeDecodeError) as exc:
        result.errors.append(TestFileError(str(path), 1, 1, f"cannot read the test file: {exc}"))
        return result
    pattern = re.compile(name_filter) if name_filter else None
    for test in spec.tests:
        if pattern is None or pattern.search(test.name):
            result.results.append(run_test(ruleset, test, spec.lateness_ms))
    result.elapsed_s = time.monotonic() - started
    return result


def expand_test_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Expand folders to the ``*.yaml``/``*.yml`` test files inside them (sorted)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(x for x in p.rglob("*") if x.suffix in (".yaml", ".yml")))
        else:
            out.append(p)
    return out


def format_results(results: Sequence[FileResult]) -> str:
    """A test-runner report: one line per test, the diff of each failure, a summary."""
    lines: list[str] = []
    passed = failed = errors = 0
    for fr in results:
        lines.append(fr.path)
        for err in fr.errors:
            lines.append(f"  ERROR {err}")
        errors += len(fr.errors)
        for r in fr.results:
            lines.append(f"  {'ok  ' if r.ok else 'FAIL'}  {r.name}")
            for problem in r.problems:
                lines.extend("        " + line for line in problem.splitlines())
            passed, failed = passed + r.ok, failed + (not r.ok)
    total_s = sum(fr.elapsed_s for fr in results)
    summary = f"{passed + failed} tests: {passed} passed, {failed} failed"
    if errors:
        summary += f", {errors} file errors"
    lines.append(f"{summary} ({total_s:.2f} s)")
    return "\n".join(lines)
