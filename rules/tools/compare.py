"""Expected against emitted warnings: strict identity, lenient content, readable diffs.

Examples:
    >>> import re
    >>> from envelope.events import RiskWarning
    >>> w = RiskWarning(id="w1", fingerprint="f", rule_id="surge", rule_version=1,
    ...     logic_hash="h", severity="high", title="Hotline surge: 15 tickets", key="330106|noise",
    ...     ts_ms=0, region="330106", department="d", value=15.0)
    >>> exp = ExpectedWarning("surge", "330106|noise", "fired",
    ...     (("severity", "high"), ("title", re.compile("^Hotline")), ("value", 15)), line=3)
    >>> compare([exp], [w])
    []
    >>> for line in compare([ExpectedWarning("surge", "330106|noise", "fired",
    ...         (("severity", "low"),), line=3)], [w]):
    ...     print(line)
    ~ differs     surge key=330106|noise stage=fired (line 3): severity: expected 'low', got 'high'
    >>> compare([], [w])[0].split(" title=")[0]
    '+ unexpected  surge key=330106|noise stage=fired severity=high value=15.0'
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from envelope.events import RiskWarning
from rules.tools.testfile import ExpectedWarning
from rules.tools.times import show_at

SHOWN = ("severity", "value", "title")


def identity(w: RiskWarning) -> tuple[str, str, str]:
    return (w.rule_id, w.key, w.stage)


def value_matches(expected: Any, actual: Any) -> bool:
    """One field: regex search, numbers by value, lists and mappings as subsets, else equal
    (or equal as text)."""
    if isinstance(expected, re.Pattern):
        return expected.search("" if actual is None else str(actual)) is not None
    if _is_number(expected) and _is_number(actual):
        return math.isclose(float(expected), float(actual), rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(expected, list) and isinstance(actual, list | tuple):
        return all(any(value_matches(e, a) for a in actual) for e in expected)
    if isinstance(expected, dict) and isinstance(actual, dict):
        return all(k in actual and value_matches(v, actual[k]) for k, v in expected.items())
    if expected is None or actual is None or isinstance(expected, bool | dict):
        return expected == actual
    return bool(expected == actual or str(expected) == str(actual))


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def mismatches(exp: ExpectedWarning, w: RiskWarning) -> list[str]:
    """The fields of ``exp`` that ``w`` does not match, as ``name: expected X, got Y``."""
    out = []
    for name, want in exp.fields:
        out += _diffs(name, want, getattr(w, name, None))
    return out


def _diffs(name: str, want: Any, got: Any) -> list[str]:
    """Mismatches of one field; inside mappings, down to the dotted path that differs."""
    if isinstance(want, dict) and isinstance(got, dict):
        out = []
        for k, v in want.items():
            if k in got:
                out += _diffs(f"{name}.{k}", v, got[k])
            else:
                out.append(f"{name}.{k}: expected {_show(k, v)}, missing")
        return out
    if value_matches(want, got):
        return []
    return [f"{name}: expected {_show(name, want)}, got {_show(name, got)}"]


def _show(name: str, value: Any) -> str:
    if isinstance(value, re.Pattern):
        return f"re:{value.pattern!r}"
    if name.endswith("_ms") and _is_number(value):
        return show_at(int(value))
    return repr(value)


def describe(w: RiskWarning) -> str:
    parts = [f"{w.rule_id} key={w.key} stage={w.stage}"]
    parts += [f"{n}={getattr(w, n)!r}" if n == "title" else f"{n}={getattr(w, n)}" for n in SHOWN]
    return " ".join(parts)


def _ident(exp: ExpectedWarning) -> str:
    return f"{exp.rule} key={exp.key} stage={exp.stage} (line {exp.line})"


def compare(
    expected: Sequence[ExpectedWarning],
    actual: Sequence[RiskWarning],
    elsewhere: Sequence[RiskWarning] = (),
) -> list[str]:
    """Problems, one line each: ``- missing``, ``+ unexpected``, ``~ differs``; [] when equal.

    Warnings pair one to one: first those that match fully, then same-identity pairs whose
    other fields differ (reported field by field). ``elsewhere`` (warnings of the other
    check intervals) only feeds the hint of a missing warning.
    """
    pairs = _full_matches(expected, actual)
    taken = set(pairs.values())
    unused = [w for j, w in enumerate(actual) if j not in taken]
    pending = [exp for i, exp in enumerate(expected) if i not in pairs]
    problems = []
    for exp in pending:
        near = next((w for w in unused if _same(exp, w)), None)
        if near is None:
            problems.append(f"- missing     {_ident(exp)}{_hint(exp, unused, elsewhere)}")
        else:
            unused.remove(near)
            problems.append(f"~ differs     {_ident(exp)}: " + "; ".join(mismatches(exp, near)))
    problems += [f"+ unexpected  {describe(w)}" for w in unused]
    return problems


def _full_matches(
    expected: Sequence[ExpectedWarning], actual: Sequence[RiskWarning]
) -> dict[int, int]:
    """As many (expected, actual) pairs that match fully as possible, whatever the order
    they are listed in: expected index -> actual index (augmenting paths, Kuhn's method).

    Two warnings of one identity at one check (a high, then a critical) pair with two
    expectations in either order.
    """
    fits = [
        [j for j, w in enumerate(actual) if _same(exp, w) and not mismatches(exp, w)]
        for exp in expected
    ]
    owner: dict[int, int] = {}  # actual index -> expected index

    def place(i: int, seen: set[int]) -> bool:
        for j in fits[i]:
            if j in seen:
                continue
            seen.add(j)
            if j not in owner or place(owner[j], seen):
                owner[j] = i
                return True
        return False

    for i in range(len(expected)):
        place(i, set())
    return {i: j for j, i in owner.items()}


def _same(exp: ExpectedWarning, w: RiskWarning) -> bool:
    return (exp.rule, exp.key, exp.stage) == identity(w)


def _hint(
    exp: ExpectedWarning, unused: Sequence[RiskWarning], elsewhere: Sequence[RiskWarning]
) -> str:
    """Point at a near miss: it fired in another check interval, the same rule fired for
    this key with another stage, or the same rule and stage for another key."""
    times = [show_at(w.ts_ms) for w in elsewhere if _same(exp, w)]
    if times:
        return f" (it fired at {', '.join(times[:3])}: in another check interval)"
    for w in unused:
        if w.rule_id == exp.rule and w.key == exp.key:
            return f" (this rule fired stage={w.stage!r} for this key)"
    for w in unused:
        if w.rule_id == exp.rule and w.stage == exp.stage:
            return f" (this rule fired for key={w.key!r})"
    return ""
