"""``rules explain RULE EVENT.json``: why a rule did or did not react to one event.

For one rule and one event: every selection of the rule (``match``, ``anchor``,
``fulfilled_by`` …) with each condition's field, operator, expected and actual value and
whether it held; whether the group key resolved; the rule's state for that key before
the event (optionally after replaying a history of events) and after it; and the warnings
the event raised. It runs the real engine, so the answer is what production would do.

Examples:
    >>> from rules.language.model import parse_rule
    >>> from envelope.build import EventMaker
    >>> make_event = EventMaker()
    >>> rule = parse_rule("id: big\\ntitle: t\\ntype: threshold\\ngroup_by: [attrs.account]\\n"
    ...     "match: {type: data.access, attrs.rows|gte: 100}\\nwindow: 1h\\ncondition: {gte: 1}\\n",
    ...     "big.yaml")
    >>> ex = explain(rule, make_event(ts_ms=1772414100000, type="data.access", id="e1",
    ...     account="stf-1", rows=40))
    >>> print("\\n".join(ex.selections[0].lines()))
    selection 'match': does NOT match
      pass  type eq 'data.access'   actual 'data.access'
      FAIL  attrs.rows|gte 100.0    actual 40
    >>> ex.key, ex.warnings
    ('stf-1', [])
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from envelope.events import Event, RiskWarning
from rules.engine.engine import Engine
from rules.language.model import Rule
from rules.language.ruleset import RuleSet
from rules.matching.expr import Bin, parse
from rules.matching.expr_compile import compile_expr
from rules.matching.selection import Condition, Selection
from rules.tools.compare import describe
from rules.tools.times import show_at
from rules.types.common import group_key

Shared = tuple[Mapping[str, Any], Mapping[str, Any]]  # (lists, macros) of a rules folder
_EPOCH_MS = (946_684_800_000, 4_102_444_800_000)  # 2000-01-01 .. 2100-01-01
_MAX_ITEMS = 5


@dataclass
class ConditionResult:
    text: str  # as written: ``attrs.rows|gte``
    expected: str
    actual: Any
    held: bool

    def line(self, width: int) -> str:
        actual = "missing" if self.actual is None else repr(self.actual)
        test = f"{self.text} {self.expected}".ljust(width)
        return f"  {'pass' if self.held else 'FAIL'}  {test}   actual {actual}"


@dataclass
class SelectionResult:
    """One selection (alternatives: any may hold; all conditions of one must) or one
    ``where`` expression (a single pseudo-condition)."""

    name: str
    alternatives: list[list[ConditionResult]]

    @property
    def passed(self) -> bool:
        return any(all(c.held for c in alt) for alt in self.alternatives)

    def lines(self) -> list[str]:
        verdict = "matches" if self.passed else "does NOT match"
        if self.passed and "exception " in self.name:
            verdict += ": the rule ignores this event"
        out = [f"{self.name}: {verdict}"]
        conds = [c for alt in self.alternatives for c in alt]
        width = max((len(f"{c.text} {c.expected}") for c in conds), default=0)
        for i, alt in enumerate(self.alternatives):
            if len(self.alternatives) > 1:
                ok = "matches" if all(c.held for c in alt) else "does not match"
                out.append(f" alternative {i + 1} of {len(self.alternatives)}: {ok}")
            out += [c.line(width) for c in alt]
        return out


@dataclass
class Explanation:
    rule: Rule
    event: Event
    selections: list[SelectionResult]
    key_parts: list[tuple[str, Any]]
    key: str | None
    history_events: int = 0
    watermark_ms: int = 0
    before: list[str] = field(default_factory=list)
    after: list[str] = field(default_factory=list)
    warnings: list[RiskWarning] = field(default_factory=list)
    others: int = 0  # warnings other rules raised on this event
    counters: dict[str, int] = field(default_factory=dict)  # engine counters it moved


def _is_expr(obj: Any) -> bool:
    return isinstance(getattr(obj, "text", None), str) and callable(getattr(obj, "holds", None))


def selections_of(obj: Any, name: str = "") -> list[tuple[str, Any]]:
    """Every :class:`Selection` and ``where`` expression inside a rule, named by where it
    sits (``match``, ``anchor``, ``steps[1].match``, ``where`` …)."""
    if isinstance(obj, Selection) or (_is_expr(obj) and not isinstance(obj, Condition)):
        return [(name or "match", obj)]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        if hasattr(obj, "expires") and hasattr(obj, "name"):  # an exception (exemption)
            name = f"exception {obj.name!r} (until {obj.expires})"
        out = []
        for f in dataclasses.fields(obj):
            sub = f.name if not name or name == "spec" else f"{name}.{f.name}"
            out += selections_of(getattr(obj, f.name), sub)
        return out
    if isinstance(obj, list | tuple):
        return [s for i, x in enumerate(obj) for s in selections_of(x, f"{name}[{i}]")]
    return []


def show_operand(c: Condition) -> str:
    """The compiled operand as the author wrote it (lists sorted, patterns as /re/)."""
    operand = c.operand
    if isinstance(operand, frozenset):
        return repr(sorted({str(x) for x in operand}))
    if isinstance(operand, tuple) and operand and hasattr(operand[0], "pattern"):
        return " or ".join(f"/{p.pattern}/" for p in operand)
    if isinstance(operand, tuple) and len(operand) == 2 and operand[1] == str(operand[0]):
        return repr(operand[0])  # a scalar: (value, its text)
    if isinstance(operand, tuple) and len(operand) == 1:
        return repr(operand[0])
    return repr(operand)


def _label(c: Condition) -> str:
    """The condition as written, with its implied operator when it has no modifier."""
    return c.text if "|" in c.text else f"{c.text} {c.op}"


def where_parts(text: str, shared: Shared) -> list[tuple[str, Any]]:
    """The ``and`` parts of a ``where`` expression, each compiled on its own (with the
    folder's lists and macros); [] when there is one part or it cannot be split."""
    try:
        cuts: list[int] = []

        def walk(node: Any) -> None:
            if isinstance(node, Bin) and node.op == "and":
                walk(node.a)
                cuts.append(node.at)
                walk(node.b)

        walk(parse(text))
        pieces, start = [], 0
        for at in cuts:
            pieces.append(text[start:at].strip())
            start = at + (3 if text[at : at + 3].lower() == "and" else 2)
        pieces.append(text[start:].strip())
        if len(pieces) < 2:
            return []
        return [(p, compile_expr(p, shared[0], shared[1], want_bool=False)) for p in pieces]
    except ValueError:  # ExprError: a piece inside parentheses does not stand alone
        return []


def _value(expr: Any, event: Event) -> Any:
    try:
        return expr.value(event)
    except Exception as exc:  # noqa: BLE001 - an explanation must not crash
        return f"error: {exc}"


def check_selection(
    name: str, sel: Any, event: Event, shared: Shared = ({}, {})
) -> SelectionResult:
    """Each condition of a selection, or each ``and`` part of a ``where`` expression,
    against ``event``."""
    if not isinstance(sel, Selection):
        parts = where_parts(sel.text, shared) or [(sel.text, sel)]
        conds = []
        for text, expr in parts:
            value = _value(expr, event)
            conds.append(ConditionResult(text, "is true", value, value is True))
        return SelectionResult(f"{name} {sel.text!r}", [conds])
    alternatives = [
        [ConditionResult(_label(c), show_operand(c), c.get(event), c.holds(event)) for c in alt]
        for alt in sel.alternatives
    ]
    return SelectionResult(f"selection '{name}'", alternatives)


def state_lines(value: Any, indent: str = "  ") -> list[str]:
    """A rule's per-key state as readable lines: epoch-ms times as ISO, long lists cut."""
    if value is None:
        return [f"{indent}(no state for this key)"]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        items: Iterable[tuple[str, Any]] = (
            (f.name, getattr(value, f.name)) for f in dataclasses.fields(value)
        )
    elif isinstance(value, dict):
        items = value.items()
    else:
        return [f"{indent}{_show(value)}"]
    return [f"{indent}{name}: {_show(v, name)}" for name, v in items]


def _show(value: Any, name: str = "") -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        if name.endswith("_ms") or _EPOCH_MS[0] <= value < _EPOCH_MS[1]:
            return show_at(value)
        return str(value)
    if isinstance(value, tuple):
        return "(" + ", ".join(_show(v) for v in value) + ")"
    if isinstance(value, dict):
        pairs = [f"{k!r}: {_show(v)}" for k, v in list(value.items())[:_MAX_ITEMS]]
        if len(value) <= _MAX_ITEMS:
            return "{" + ", ".join(pairs) + "}"
        more = f", … {len(value) - _MAX_ITEMS} more"
        return f"{len(value)} entries: {{" + ", ".join(pairs) + more + "}"
    if isinstance(value, list | Iterable) and not isinstance(value, str | bytes | dict):
        items = list(value)
        shown = ", ".join(_show(v) for v in items[:_MAX_ITEMS])
        if len(items) <= _MAX_ITEMS:
            return f"[{shown}]"
        return f"{len(items)} items: [{shown}, … {len(items) - _MAX_ITEMS} more]"
    return repr(value)


def _state_of(engine: Engine, rule: Rule, key: str | None) -> list[str]:
    """The rule's state for ``key``, as the evaluator describes it."""
    if key is None:
        return ["  (no key: no state)"]
    state_of = getattr(engine, "state_of", None)
    if state_of is not None:
        try:
            return state_lines(state_of(rule.id, key))
        except KeyError:
            return [f"  (rule {rule.id} does not run: its status is {rule.status})"]
    st = engine.states.get(f"{rule.id}@{rule.logic_hash}")
    return state_lines(None if st is None else st.keys.get(key))


def _counters(engine: Engine, rule_id: str) -> Counter[str]:
    return Counter(getattr(engine, "stats", {}).get(rule_id, {}))


def explain(
    rule: Rule,
    event: Event,
    history: Iterable[Event] = (),
    lateness_ms: int = 0,
    ruleset: RuleSet | None = None,
) -> Explanation:
    """Explain ``event`` against ``rule``, after replaying ``history`` through an engine
    running ``ruleset`` (default: the rule alone; give the folder's set for rules over
    warnings)."""
    engine = Engine(ruleset or RuleSet([rule]), lateness_ms=lateness_ms)
    shared: Shared = (getattr(ruleset, "lists", {}), getattr(ruleset, "macros", {}))
    n = 0
    for past in history:
        engine.process(past)
        n += 1
    key = group_key(rule, event)
    ex = Explanation(
        rule=rule,
        event=event,
        selections=[check_selection(name, sel, event, shared) for name, sel in selections_of(rule)],
        key_parts=[(p, event.get(p)) for p in rule.group_by],
        key=key,
        history_events=n,
        watermark_ms=engine.watermark_ms,
        before=_state_of(engine, rule, key),
    )
    counters = _counters(engine, rule.id)
    raised = engine.process(event)
    ex.warnings = [w for w in raised if w.rule_id == rule.id]
    ex.others = len(raised) - len(ex.warnings)
    ex.counters = dict(_counters(engine, rule.id) - counters)
    ex.after = _state_of(engine, rule, key)
    return ex


def format_explanation(ex: Explanation) -> str:
    r, ev = ex.rule, ex.event
    lines = [
        f"rule {r.id} ({r.type}, version {r.version}, logic {r.logic_hash}) from {r.path}",
        f"event {ev.id} {ev.type} at {ev.ts}",
    ]
    if getattr(r, "source", "events") == "warnings":
        lines.append("this rule reads warnings (source: warnings), not events")
    lines.append("")
    for sel in ex.selections:
        lines += sel.lines()
    lines.append("")
    if ex.key is None:
        missing = [p for p, v in ex.key_parts if v is None or v == ""]
        lines.append(
            f"group key: NOT resolved: the event has no value at {', '.join(missing)}; "
            "the rule ignores it"
        )
    else:
        lines.append(f"group key: {ex.key!r}")
    lines += [f"  {p} = {'missing' if v is None else repr(v)}" for p, v in ex.key_parts]
    lines.append("")
    if ex.history_events:
        when = f"after {ex.history_events} history event(s), watermark {show_at(ex.watermark_ms)}"
    else:
        when = "no history replayed"
    lines.append(f"state before this event ({when}):")
    lines += ex.before
    lines.append("state after this event:")
    lines += ex.after
    lines.append("")
    if ex.warnings:
        lines.append(f"warnings raised by this event: {len(ex.warnings)}")
        lines += [f"  {describe(w)}" for w in ex.warnings]
    else:
        lines.append("warnings raised by this event: none")
    if ex.counters:
        moved = ", ".join(f"{name} +{n}" for name, n in sorted(ex.counters.items()))
        lines.append(f"rule counters moved by this event: {moved}")
    if ex.others:
        lines.append(f"(other rules of the set raised {ex.others} warning(s) on this event)")
    return "\n".join(lines)
