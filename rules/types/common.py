# Over 50 lines on purpose: key_function builds one closure per key shape (hot path).
"""What every rule type shares: group keys, per-rule state, the hits evaluators report,
and the ``window`` key of the windowed types.

An evaluator turns events and watermarks into :class:`Hit` s ("the condition holds for
this key, at this time, at this stage"); :mod:`rules.engine.emit` turns hits into warnings
(severity, templates, suppression, shadow mode), so no evaluator repeats that work.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields
from typing import Any

from envelope.events import Event
from envelope.keyparts import part as keypart
from envelope.keyparts import scalar_text
from envelope.paths import getter
from rules.language.fields import Duration, Field
from rules.language.model import Rule
from rules.matching.normalise import KeyNorm, key_text

EVIDENCE_MAX = 20
WINDOW = Field("window", Duration(), required=True, doc="sliding event-time window, like '1h'")
BASE_PATHS = ("region", "department", "entity.kind", "entity.id")


def key_function(rule: Rule) -> Callable[[Any], str | None]:  # noqa: C901 hot path: one closure per key shape
    """The rule's group key for an event, ``a|b`` over ``group_by`` (:mod:`envelope.keyparts`:
    a bar inside a part escaped); None if a part is missing or empty. Text parts are
    normalised (:mod:`rules.matching.normalise`): NFKC, stripped, an ID number's check
    letter upper-cased, and a part's own normaliser.

    >>> from rules.language.model import parse_rule
    >>> from envelope.build import EventMaker
    >>> make_event = EventMaker()
    >>> rule = parse_rule(
    ...     "id: r1\\ntitle: t\\ntype: threshold\\nmatch: {type: x.y}\\n"
    ...     "group_by: [region, attrs.item]\\nwindow: 1h\\ncondition: {gte: 2}\\n", "r.yaml")
    >>> key_function(rule)(make_event(ts_ms=1772414100000, item="food"))
    '330106|food'
    >>> key_function(rule)(make_event(ts_ms=1772414100000, item=" ｆｏｏｄ "))
    '330106|food'
    """
    getters = [_part(getter(p), n) for p, n in zip(rule.group_by, _norms(rule), strict=True)]
    head, _, name = rule.group_by[0].partition(".")
    if len(getters) == 1 and head == "attrs" and "." not in name and not rule.key_norms:

        def attr(ev: Any) -> str | None:  # the common case, one call less
            v = ev.attrs.get(name)
            if v is None:
                return None
            if type(v) is not str:
                return scalar_text(v)
            if not v.isascii():
                return keypart(key_text(v)) or None
            v = v.strip()
            if len(v) == 18 and v[17] == "x" and v[:17].isdigit():
                return v[:17] + "X"
            if "|" in v or "\\" in v:
                return keypart(v)
            return v or None

        return attr
    if len(getters) == 1:
        only = getters[0]

        def one(ev: Any) -> str | None:
            return only(ev) or None

        return one

    if len(getters) == 2:
        g1, g2 = getters

        def two(ev: Any) -> str | None:
            a = g1(ev)
            if not a:
                return None
            b = g2(ev)
            if not b:
                return None
            return a + "|" + b

        return two

    def many(ev: Any) -> str | None:
        parts = []
        for g in getters:
            v = g(ev)
            if not v:
                return None
            parts.append(v)
        return "|".join(parts)

    return many


def _norms(rule: Rule) -> tuple[KeyNorm | None, ...]:
    return rule.key_norms or (None,) * len(rule.group_by)


def _part(get: Callable[[Any], Any], norm: KeyNorm | None) -> Callable[[Any], str]:
    """One key part of an event as text, normalised; "" when it is missing or empty."""

    if norm is not None:
        return lambda ev: (
            "" if (v := get(ev)) is None else keypart(norm(v)) if type(v) is str else scalar_text(v)
        )

    def part(ev: Any) -> str:  # key_text, inlined for the common ASCII text
        v = get(ev)
        if v is None:
            return ""
        if type(v) is not str:
            return scalar_text(v)
        if not v.isascii():
            return keypart(key_text(v))
        v = v.strip()
        if len(v) == 18 and v[17] == "x" and v[:17].isdigit():
            return v[:17] + "X"
        if "|" in v or "\\" in v:
            return keypart(v)
        return v

    return part


def group_key(rule: Rule, event: Event) -> str | None:
    """The group key of one event (see :func:`key_function`)."""
    return key_function(rule)(event)


def capture_function(rule: Rule) -> Callable[[Any], dict[str, Any]]:
    """What a warning needs from its triggering event: region, department, entity and
    the fields the rule's output names. Kept in state for warnings fired later."""
    paths = tuple(dict.fromkeys((*BASE_PATHS, *sorted(rule.output.paths))))
    pairs = [(p, getter(p)) for p in paths]
    return lambda ev: {p: g(ev) for p, g in pairs}


class CaptureRow:
    """:func:`capture_function` kept compact for state that waits for a later warning: the
    values alone, as a tuple led by a tag of the paths (``row``), and the mapping back
    (``ctx``). A row of other paths (the rule's output changed since; its state is kept)
    gives back the base paths, which every row starts with. ``ctx`` also takes an event,
    as windows of older releases kept the whole event.

    >>> from rules.language.model import parse_rule
    >>> from envelope.build import EventMaker
    >>> rule = parse_rule(
    ...     "id: rr\\ntitle: t\\ntype: threshold\\nmatch: {type: a.b}\\ngroup_by: [region]\\n"
    ...     "window: 1h\\ncondition: {gte: 2}\\n", "r.yaml")
    >>> cap = CaptureRow(rule)
    >>> ev = EventMaker()(ts_ms=1772414100000, type="a.b", region="330106")
    >>> cap.ctx(cap.row(ev)) == capture_function(rule)(ev) == cap.ctx(ev)
    True
    >>> cap.ctx((0, "330106", "dept", None, None, "extra"))["region"]
    '330106'
    """

    __slots__ = ("capture", "paths", "row", "tag")

    def __init__(self, rule: Rule) -> None:
        self.paths = tuple(dict.fromkeys((*BASE_PATHS, *sorted(rule.output.paths))))
        self.tag = zlib.crc32("\x1f".join(self.paths).encode())
        self.capture = capture_function(rule)
        getters = [getter(p) for p in self.paths]
        tag = self.tag
        self.row: Callable[[Any], tuple[Any, ...]] = lambda ev: (tag, *[g(ev) for g in getters])

    def ctx(self, row: Any) -> dict[str, Any]:
        if not isinstance(row, tuple):  # an event
            return self.capture(row)
        if row[0] == self.tag:
            return dict(zip(self.paths, row[1:], strict=True))
        return dict(zip(BASE_PATHS, row[1 : 1 + len(BASE_PATHS)], strict=False))


@dataclass(slots=True)
class Hit:
    """The condition held: for ``key`` at event time ``ts_ms``, at ``stage``.

    ``episode`` (with ``stage`` and ``key``) makes the warning id; ``escalation`` is set
    when a warning is re-emitted in the same episode because its severity rose.
    """

    key: str
    ts_ms: int
    stage: str
    episode: int
    ctx: dict[str, Any]
    value: float | None = None
    window: tuple[int, int] | None = None
    evidence: tuple[str, ...] = ()
    severity: str | None = None
    escalation: str = ""
    top: dict[str, list[list[Any]]] | None = None
    extra: dict[str, Any] | None = None  # type-specific values: previous, reference, ratio


@dataclass
class RuleState:
    """All state of one rule in one engine: per-key objects, one rule-wide model, the
    suppression entries and small rule-wide facts (``meta``).

    ``dirty`` names the keys changed since the last checkpoint; the other parts have
    their own flags. Everything here must pickle (that is the checkpoint).
    """

    keys: dict[str, Any] = field(default_factory=dict)
    dirty: set[str] = field(default_factory=set)
    model: Any = None
    model_dirty: bool = False
    sup: dict[str, list[Any]] = field(default_factory=dict)
    sup_dirty: set[str] = field(default_factory=set)
    meta: dict[str, Any] = field(default_factory=dict)
    meta_dirty: bool = False

    def put(self, key: str, value: Any) -> None:
        self.keys[key] = value
        self.dirty.add(key)

    def drop(self, key: str) -> None:
        if self.keys.pop(key, None) is not None:
            self.dirty.add(key)

    def set_meta(self, name: str, value: Any) -> None:
        self.meta[name] = value
        self.meta_dirty = True


def top_values(rows: Any, fields: tuple[str, ...], n: int) -> dict[str, list[list[Any]]]:
    """Most frequent values per field over ``rows`` (tuples aligned with ``fields``).

    >>> top_values([("a", 1), ("b", 1), ("a", 2)], ("x", "y"), 1)
    {'x': [['a', 2]], 'y': [[1, 2]]}
    >>> top_values((r for r in [("a", 1), ("a", 1)]), ("x", "y"), 1)  # any iterable, read once
    {'x': [['a', 2]], 'y': [[1, 2]]}
    """
    rows = list(rows)
    out: dict[str, list[list[Any]]] = {}
    for i, name in enumerate(fields):
        counts: dict[Any, int] = {}
        for row in rows:
            v = row[i]
            if v is not None and not isinstance(v, dict | list):
                counts[v] = counts.get(v, 0) + 1
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))[:n]
        out[name] = [[v, c] for v, c in ranked]
    return out


def restore_fields(obj: Any, state: tuple[Any, dict[str, Any]]) -> None:
    """``__setstate__`` of a slots dataclass kept in checkpoints (``state`` as pickle gives
    it: ``(None, {slot: value})``): a field added since the checkpoint was written takes its
    default, so old checkpoints still load.

    >>> from rules.types.windowed import Window
    >>> w = Window.__new__(Window)
    >>> restore_fields(w, (None, {"entries": [(1, None, "e1")], "acc": [1]}))
    >>> w.entries, w.past, w.closed
    ([(1, None, 'e1')], [], None)
    """
    slots = state[1] if isinstance(state, tuple) else state
    for f in fields(obj):
        if f.name in slots:
            value = slots[f.name]
        elif f.default_factory is not MISSING:
            value = f.default_factory()
        elif f.default is not MISSING:
            value = f.default
        else:
            raise ValueError(f"checkpointed {type(obj).__name__} lacks its field {f.name!r}")
        object.__setattr__(obj, f.name, value)
