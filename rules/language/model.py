"""Rules as frozen, typed objects, parsed once from YAML. Nothing downstream sees a raw dict.

A rule file holds one rule: the common keys of :data:`COMMON` (metadata, ``type``,
``source``, ``match``, ``where``, ``group_by``, ``severity``, ``output``, ``suppress``,
``resolve``, ``exceptions``) plus the keys of its type (:mod:`rules.types.registry`).
Every error names ``file:line:col`` and says how to fix it.

Examples:
    >>> rule = parse_rule('''
    ... id: many-visits
    ... title: same applicant, same item, again and again
    ... type: threshold
    ... match: {type: application.submitted}
    ... where: attrs.channel != 'test'
    ... group_by: [attrs.applicant, attrs.item]
    ... window: 3d
    ... condition: {gte: 4}
    ... severity: [{when: {gte: 8}, level: high}, {level: medium}]
    ... ''', "many-visits.yaml")
    >>> rule.type, rule.spec.window_ms, rule.severity_for(9.0), rule.shadow
    ('threshold', 259200000, 'high', False)
    >>> parse_rule("id: x1\\ntitle: t\\ntype: threshold\\nmatch: {type: a.b}\\n"
    ...            "group_by: [attrs.k]\\nwindow: 1h\\ncondition: {gte: 2}\\nwindw: 2h\\n",
    ...            "x.yaml")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    rules.language.errors.RuleError: x.yaml:8:1: unknown key 'windw' in rule: ...
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rules.language.blocks import (
    EXCEPTION,
    OUTPUT,
    RESOLVE,
    SUPPRESS,
    Exemption,
    Output,
    Resolve,
    Severity,
    SeverityKind,
)
from rules.language.blocks import Suppress as Suppress
from rules.language.errors import RuleError
from rules.language.fields import (
    Choice,
    Ctx,
    Field,
    KeyPath,
    Many,
    Number,
    Reader,
    Text,
    check_keys,
    loc_of,
    parse_fields,
)
from rules.language.valuekinds import DateKind, SelectionKind
from rules.language.valuekinds import ExprKind as _ExprKind
from rules.language.yamlloc import load_located
from rules.matching.expr_compile import Expr
from rules.matching.normalise import ADDRESS_PREFIXES_LIST, KeyNorm
from rules.matching.selection import Selection
from rules.types import registry

if TYPE_CHECKING:
    from rules.types.registry import RuleType, Spec

STATUSES = ("stable", "test", "experimental", "deprecated")
SHADOW_STATUSES = ("test", "experimental")
SOURCES = ("events", "warnings")
ID_PATTERN = r"^[a-z0-9][a-z0-9._-]{1,62}$"

COMMON: tuple[Field, ...] = (
    Field(
        "id",
        Text(ID_PATTERN, "2-63 lowercase letters, digits, '-', '.' or '_'"),
        required=True,
        logic=False,
        doc="stable, unique, never reused",
    ),
    Field("version", Number(1, integer=True), default=1, logic=False, doc="bump on a logic change"),
    Field("title", Text(), required=True, logic=False),
    Field("description", Text(), logic=False),
    Field(
        "status",
        Choice(STATUSES),
        default="stable",
        logic=False,
        doc="test and experimental run in shadow mode; deprecated rules do not run",
    ),
    Field(
        "severity", SeverityKind(), default="medium", logic=False, doc="a level, or tiers by value"
    ),
    Field("owner", Text(), logic=False),
    Field("author", Text(), logic=False),
    Field("tags", Many(Text()), logic=False),
    Field("references", Many(Text()), logic=False, doc="legal basis"),
    Field("falsepositives", Many(Text()), logic=False),
    Field("created", DateKind(), logic=False),
    Field("modified", DateKind(), logic=False),
    Field("type", Choice(tuple(registry.names())), required=True),
    Field(
        "source", Choice(SOURCES), default="events", doc="events, or the warnings of other rules"
    ),
    Field("match", SelectionKind(), doc="the events the rule looks at"),
    Field("where", _ExprKind(), doc='an extra condition, like "attrs.rows > 100"'),
    Field(
        "group_by",
        Many(KeyPath()),
        required=True,
        doc="fields that make the key, like [attrs.account]; attrs.address|address normalises",
    ),
    Field("output", OUTPUT, logic=False),
    Field("suppress", SUPPRESS, logic=False),
    Field("resolve", RESOLVE),  # counts: spike and threshold keys are re-evaluated to resolve
    # Exceptions stay out of the logic hash: they decide which events the rule takes in from
    # now on, not what the state it holds means; adding or retiring one must neither drop every
    # key's windows and deadlines nor change warning ids.
    Field("exceptions", Many(EXCEPTION, single_ok=False), logic=False),
)


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    version: int
    title: str
    type: str
    severity: str
    status: str
    group_by: tuple[str, ...]  # field paths; a part's normaliser is in key_norms
    spec: Spec
    logic_hash: str
    path: str
    description: str = ""
    owner: str = ""
    author: str = ""
    tags: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    falsepositives: tuple[str, ...] = ()
    source: str = "events"
    match: Selection | None = None
    where: Expr | None = None
    severities: Severity | None = None
    output: Output = Output()
    suppress: Suppress | None = None
    resolve: Resolve | None = None
    exceptions: tuple[Exemption, ...] = ()
    lists_used: frozenset[str] = frozenset()
    macros_used: frozenset[str] = frozenset()
    positions: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    key_norms: tuple[KeyNorm | None, ...] = ()  # per group_by part; () when none has one

    @property
    def key_parts(self) -> tuple[str, ...]:
        """``group_by`` as written: each path with its ``|normaliser``, if any."""
        norms = self.key_norms or (None,) * len(self.group_by)
        return tuple(
            p if n is None else f"{p}|{n.name}" for p, n in zip(self.group_by, norms, strict=True)
        )

    @property
    def shadow(self) -> bool:
        """Shadow mode: evaluated and counted, never enqueued as a clue."""
        return self.status in SHADOW_STATUSES

    @property
    def enabled(self) -> bool:
        return self.status != "deprecated"

    @property
    def output_title(self) -> str:
        return self.output.title.text if self.output.title else ""

    @property
    def output_summary(self) -> str:
        return self.output.summary.text if self.output.summary else ""

    def severity_for(self, value: float | None) -> str:
        """The severity tier of a value (the fixed level without tiers)."""
        return self.severities.level_for(value) if self.severities else self.severity


def logic_hash(node: Mapping[str, Any], fields: tuple[Field, ...], ctx: Ctx) -> str:
    """Hash of what decides what fires and when it resolves, with the shared lists and macros
    the rule uses; wording, severity, output, suppression and exceptions do not count."""
    logic = {f.name: node[f.name] for f in fields if f.logic and f.name in node}
    logic["$lists"] = {n: list(ctx.lists[n]) for n in sorted(ctx.used_lists)}
    logic["$macros"] = {n: ctx.macros[n].text for n in sorted(ctx.used_macros)}
    blob = json.dumps(logic, sort_keys=True, default=str, ensure_ascii=False).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def parse_rule(text: str, path: str, ctx: Ctx | None = None) -> Rule:
    """Parse one rule file's text; raises RuleError with ``path:line:col``.

    ``ctx`` carries the shared lists and macros of the rule's folder (see
    :func:`rules.language.ruleset.load_rules`); without it, a rule may use none.
    """
    node = load_located(text, path)
    if node is None:
        raise RuleError(path, 1, 1, "the file is empty: a rule file holds one rule mapping")
    if not isinstance(node, dict):
        line, col = getattr(node, "pos", (1, 1))
        raise RuleError(path, line, col, "a rule file holds one mapping of keys to values")
    base = ctx or Ctx(path)
    ctx = Ctx(path, base.lists, base.macros)
    reader = Reader(node, path)
    if "type" not in node:
        raise reader.fail(None, f"rule needs 'type': one of {', '.join(registry.names())}")
    try:
        name = Choice(tuple(registry.names())).parse(node["type"], loc_of(node, "type", path), ctx)
    except RuleError as exc:
        raise RuleError(path, exc.line, exc.col, f"unknown rule type: {exc.message}") from None
    rtype = registry.rule_type(name)
    fields = COMMON + rtype.fields
    check_keys(node, tuple(f.name for f in fields), "rule", reader)
    group_by = node.get("group_by")
    ctx.names = {
        str(p).partition("|")[0].rsplit(".", 1)[-1]
        for p in (group_by if isinstance(group_by, list) else [group_by])
        if p
    }
    common = parse_fields(node, COMMON, reader, ctx, "rule")
    if rtype.needs_match and common["match"] is None:
        raise reader.fail(
            None,
            f"a {name} rule needs 'match': the events it looks at, like {{type: data.access}}",
        )
    spec = rtype.build(parse_fields(node, rtype.fields, reader, ctx, "rule"), reader)
    _check_resolve(common["resolve"], rtype, spec, reader)
    return _rule(common, spec, node, fields, ctx)


WHEN = {"fulfilled": "its obligation is fulfilled", "cleared": "its condition clears"}


def _check_resolve(resolve: Resolve | None, rtype: RuleType, spec: Any, reader: Reader) -> None:
    if resolve is None:
        return
    want = rtype.variant(spec).resolve_on
    if want is None:
        resolvable = [t.name for t in registry.rule_types() if t.resolvable]
        raise reader.fail(
            "resolve",
            f"'resolve' applies to {', '.join(resolvable)} rules: "
            f"a {rtype.name} rule has nothing that clears",
        )
    if resolve.on != want:
        raise reader.fail(
            "resolve",
            f"this rule resolves when {WHEN[want]}: write resolve: {{on: {want}}}",
        )


def _rule(c: dict[str, Any], spec: Any, node: Any, fields: tuple[Field, ...], ctx: Ctx) -> Rule:
    sev = c["severity"] if isinstance(c["severity"], Severity) else Severity(str(c["severity"]))
    norms = _key_norms(c["group_by"], ctx)  # before the logic hash: it may use a list
    return Rule(
        id=c["id"],
        version=c["version"],
        title=c["title"],
        type=c["type"],
        severity=sev.base,
        status=c["status"],
        group_by=tuple(p.partition("|")[0] for p in c["group_by"]),
        key_norms=norms,
        spec=spec,
        logic_hash=logic_hash(node, fields, ctx),
        path=ctx.path,
        description=c["description"] or "",
        owner=c["owner"] or "",
        author=c["author"] or "",
        tags=c["tags"] or (),
        references=c["references"] or (),
        falsepositives=c["falsepositives"] or (),
        source=c["source"],
        match=c["match"],
        where=c["where"],
        severities=sev if sev.tiers else None,
        output=c["output"] or Output(),
        suppress=c["suppress"],
        resolve=c["resolve"],
        exceptions=c["exceptions"] or (),
        lists_used=frozenset(ctx.used_lists),
        macros_used=frozenset(ctx.used_macros),
        positions=dict(getattr(node, "key_pos", {})),
    )


def _key_norms(parts: tuple[str, ...], ctx: Ctx) -> tuple[KeyNorm | None, ...]:
    """The normaliser of each ``group_by`` part; the address normaliser strips the folder's
    ``address_prefixes`` list, which then counts in the logic hash."""
    if not any("|" in p for p in parts):
        return ()
    prefixes = tuple(str(p) for p in ctx.lists.get(ADDRESS_PREFIXES_LIST, ()))
    if prefixes:
        ctx.used_lists.add(ADDRESS_PREFIXES_LIST)
    return tuple(KeyNorm(p.partition("|")[2], prefixes) if "|" in p else None for p in parts)
