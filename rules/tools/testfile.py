"""Rule unit-test files (promtool-style YAML), parsed once into typed, frozen objects.

A test file names the rules under test and holds test cases::

    rule_files: [../hotline-surge.yaml]      # relative to this file; globs allowed
    # or:  rules: ..                         # a whole rules folder
    tests:
      - name: fifteen tickets in two hours fire once
        start: '2026-03-02T09:00:00+08:00'   # origin of offsets like '+5m'
        defaults: {type: hotline.ticket, region: '330106'}
        seed: []                             # events learned first, silently (a baseline)
        input:
          - at: +0m
            repeat: {every: 5m, times: 15}   # '{n}' in text values becomes 1..15
            category: noise
        expect:
          - at: +2h
            warnings:
              - {rule: hotline-surge, key: 330106|noise, severity: high, title: 're:^Hotline'}

An input names its envelope fields compactly: ``type``, ``stream``, ``source``, ``region``,
``department``, ``entity`` (``kind:id`` or a mapping), ``id``, ``attrs``; any other key is
an attribute. Expected warnings need ``rule`` and ``key``; ``stage`` defaults to the
warning's default stage; any other :class:`~envelope.events.RiskWarning` field is compared
as a subset (``re:…`` is a regular expression). ``ts`` takes a time like ``at``.
Every problem raises :class:`TestFileError` with ``file:line:col``.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

from envelope import keyparts
from envelope.build import event_at
from envelope.events import Event, InvalidEvent, RiskWarning
from rules.language.errors import RuleError
from rules.language.yamlloc import load_located
from rules.tools.times import parse_offset_ms, resolve_at, to_ms

ENVELOPE = ("id", "type", "stream", "source", "region", "department", "entity", "attrs")
WARNING_FIELDS = {f.name: f for f in dataclasses.fields(RiskWarning)}
DEFAULT_STAGE = str(WARNING_FIELDS["stage"].default)
IDENTITY = ("rule", "key", "stage")
MAX_REPEAT = 100_000


class TestFileError(RuleError):
    """A rule test file that cannot be used: ``path:line:col: message``."""

    __test__ = False  # not a pytest test class


@dataclass(frozen=True, slots=True)
class InputEvent:
    at_ms: int
    event: Event
    line: int


@dataclass(frozen=True, slots=True)
class ExpectedWarning:
    """Identity (``rule``, ``key``, ``stage``) matched exactly; ``fields`` as a subset."""

    rule: str
    key: str
    stage: str
    fields: tuple[tuple[str, Any], ...]
    line: int


@dataclass(frozen=True, slots=True)
class Check:
    """At ``at_ms``: exactly these warnings were emitted since the previous check."""

    at_ms: int
    warnings: tuple[ExpectedWarning, ...]
    line: int


@dataclass(frozen=True, slots=True)
class RuleTest:
    name: str
    start_ms: int | None
    inputs: tuple[InputEvent, ...]
    checks: tuple[Check, ...]
    line: int
    seed: tuple[InputEvent, ...] = ()


@dataclass(frozen=True, slots=True)
class RuleTestSpec:
    """A parsed test file: where its rules are and its cases (rules load separately)."""

    path: str
    rule_files: tuple[str, ...]
    rules_dir: str | None
    lateness_ms: int
    tests: tuple[RuleTest, ...]
    rules_line: int = 1


class _Node:
    """One mapping of a test file with positions, raising TestFileError where it went wrong."""

    def __init__(self, node: Any, path: str, where: str, pos: tuple[int, int] = (1, 1)) -> None:
        self.pos: tuple[int, int] = getattr(node, "pos", pos)
        self.path, self.where = path, where
        if not isinstance(node, dict):
            raise self.fail(None, f"{where} must be a mapping of keys to values")
        self.node: dict[str, Any] = node
        self.key_pos: dict[str, tuple[int, int]] = getattr(node, "key_pos", {})

    def fail(self, key: str | None, message: str) -> TestFileError:
        line, col = self.key_pos.get(key, self.pos) if key else self.pos
        return TestFileError(self.path, line, col, message)

    def only(self, allowed: tuple[str, ...]) -> None:
        for key in self.node:
            if key not in allowed:
                raise self.fail(
                    key, f"unknown key {key!r} in {self.where}: use one of {', '.join(allowed)}"
                )

    def need(self, key: str) -> Any:
        if self.node.get(key) is None:
            raise self.fail(None, f"{self.where} needs '{key}'")
        return self.node[key]

    def items(self, key: str, required: bool = True) -> list[Any]:
        value = self.need(key) if required else (self.node.get(key) or [])
        if not isinstance(value, list):
            raise self.fail(key, f"'{key}' must be a list")
        return value

    def child(self, key: str, value: Any, where: str) -> _Node:
        return _Node(value, self.path, where, self.key_pos.get(key, self.pos))

    def at(self, key: str, start_ms: int | None) -> int:
        try:
            return resolve_at(self.need(key), start_ms)
        except ValueError as exc:
            raise self.fail(key, f"'{key}': {exc}") from None


def load_test_spec(text: str, path: str) -> RuleTestSpec:
    """Parse one test file's text; raises TestFileError naming ``path:line:col``."""
    try:
        doc = load_located(text, path)
    except RuleError as exc:
        raise TestFileError(exc.path, exc.line, exc.col, exc.message) from None
    top = _Node(doc, path, "a test file")
    top.only(("rule_files", "rules", "lateness", "defaults", "tests"))
    if ("rule_files" in top.node) == ("rules" in top.node):
        raise top.fail(None, "a test file needs either 'rule_files: [...]' or 'rules: FOLDER'")
    rule_files = tuple(str(x) for x in top.items("rule_files", required=False))
    rules_dir = top.node.get("rules")
    lateness_ms = parse_offset_ms(top.node.get("lateness", 0))
    if lateness_ms is None:
        raise top.fail("lateness", "'lateness' must be a duration like '5m'")
    defaults = _defaults(top, "defaults", {})
    tests = []
    for i, raw in enumerate(top.items("tests")):
        tests.append(_test(top.child("tests", raw, f"test #{i + 1}"), i + 1, defaults))
    if not tests:
        raise top.fail("tests", "'tests' must hold at least one test")
    rules_line = top.key_pos.get("rules", top.key_pos.get("rule_files", (1, 1)))[0]
    rules_dir = None if rules_dir is None else str(rules_dir)
    return RuleTestSpec(path, rule_files, rules_dir, lateness_ms, tuple(tests), rules_line)


def _defaults(node: _Node, key: str, inherited: dict[str, Any]) -> dict[str, Any]:
    raw = node.node.get(key) or {}
    if not isinstance(raw, dict):
        raise node.fail(key, f"'{key}' must be a mapping of event fields, like {{type: a.b}}")
    return {**inherited, **raw}


def _test(node: _Node, number: int, defaults: dict[str, Any]) -> RuleTest:
    node.only(("name", "start", "defaults", "seed", "input", "expect"))
    name = str(node.node.get("name") or f"test #{number}")
    start_ms = None
    if node.node.get("start") is not None:
        try:
            start_ms = to_ms(node.node["start"])
        except ValueError as exc:
            raise node.fail("start", f"'start': {exc}") from None
    defaults = _defaults(node, "defaults", defaults)
    inputs: list[InputEvent] = []
    for raw in node.items("input", required=False):
        item = node.child("input", raw, f"an input of {name!r}")
        inputs.extend(_inputs(item, start_ms, defaults, f"t{number}-e", len(inputs)))
    seed: list[InputEvent] = []
    for raw in node.items("seed", required=False):
        item = node.child("seed", raw, f"a seed event of {name!r}")
        seed.extend(_inputs(item, start_ms, defaults, f"t{number}-s", len(seed)))
    checks = [
        _check(node.child("expect", raw, f"an expect entry of {name!r}"), start_ms)
        for raw in node.items("expect")
    ]
    if not checks:
        raise node.fail("expect", f"test {name!r} needs at least one 'expect' entry")
    for before, after in zip(checks, checks[1:], strict=False):
        if after.at_ms <= before.at_ms:
            raise TestFileError(
                node.path, after.line, 1, "expect times must increase: sort the entries by 'at'"
            )
    return RuleTest(name, start_ms, tuple(inputs), tuple(checks), node.pos[0], tuple(seed))


def _inputs(
    node: _Node, start_ms: int | None, defaults: dict[str, Any], prefix: str, seen: int
) -> list[InputEvent]:
    """One input entry, expanded by ``repeat: {every, times}``."""
    at_ms = node.at("at", start_ms)
    every_ms, times = 0, 1
    if node.node.get("repeat") is not None:
        rep = node.child("repeat", node.node["repeat"], "repeat")
        rep.only(("every", "times"))
        times = rep.need("times")
        if isinstance(times, bool) or not isinstance(times, int) or not 1 <= times <= MAX_REPEAT:
            raise rep.fail("times", f"'times' must be a whole number from 1 to {MAX_REPEAT}")
        every_ms = parse_offset_ms(rep.node.get("every", "0s")) or 0
        if times > 1 and every_ms <= 0:
            raise rep.fail("every", "'every' must be a duration like '5m' when 'times' > 1")
    fields = {**defaults, **{k: v for k, v in node.node.items() if k not in ("at", "repeat")}}
    out = []
    for n in range(1, times + 1):
        values = _number(fields, n) if times > 1 else fields
        ts_ms = at_ms + (n - 1) * every_ms
        event = _event(node, values, ts_ms, f"{prefix}{seen + n}")
        out.append(InputEvent(ts_ms, event, node.pos[0]))
    return out


def _number(value: Any, n: int) -> Any:
    """Replace ``{n}`` in text values (also inside lists and mappings) by ``n``."""
    if isinstance(value, str):
        return value.replace("{n}", str(n))
    if isinstance(value, dict):
        return {k: _number(v, n) for k, v in value.items()}
    if isinstance(value, list):
        return [_number(v, n) for v in value]
    return value


def _event(node: _Node, fields: dict[str, Any], ts_ms: int, default_id: str) -> Event:
    raw_attrs = fields.get("attrs") or {}
    if not isinstance(raw_attrs, dict):
        raise node.fail("attrs", "'attrs' must be a mapping of attribute names to values")
    attrs = {str(k): v for k, v in raw_attrs.items()}
    attrs.update({k: v for k, v in fields.items() if k not in ENVELOPE})
    envelope = {k: v for k, v in fields.items() if k in ENVELOPE and k != "attrs"}
    entity = envelope.pop("entity", None)
    if isinstance(entity, str):
        kind, sep, ident = entity.partition(":")
        entity = (kind, ident) if sep else None
    elif isinstance(entity, dict):
        entity = (entity.get("kind"), entity.get("id"))
    elif entity is not None:
        entity = None
    if entity is None and "entity" in fields:
        raise node.fail("entity", "'entity' must be 'kind:id' or {kind: ..., id: ...}")
    if "type" not in envelope:
        raise node.fail(None, "an input needs 'type' (or a 'defaults' entry giving it)")
    for name in ("region", "stream", "department", "source", "id", "type"):
        if name in envelope:
            envelope[name] = str(envelope[name])
    source = envelope.pop("source", None)
    try:
        ev = event_at(
            ts_ms=ts_ms,
            id=envelope.pop("id", default_id),
            **envelope,
            **({"entity": entity} if entity else {}),
        )
    except (InvalidEvent, TypeError) as exc:
        raise node.fail(None, f"not a valid event: {exc}") from None
    # attributes go in after the envelope is checked, so no name can clash with it
    return dataclasses.replace(ev, attrs=attrs, source=source or ev.source)


def _check(node: _Node, start_ms: int | None) -> Check:
    node.only(("at", "warnings"))
    at_ms = node.at("at", start_ms)
    raw = node.node.get("warnings")
    if raw is None:
        raise node.fail(None, "an expect entry needs 'warnings:' (write 'warnings: []' for none)")
    if not isinstance(raw, list):
        raise node.fail("warnings", "'warnings' must be a list (empty: nothing fires)")
    items = [_expected(node.child("warnings", w, "an expected warning"), start_ms) for w in raw]
    return Check(at_ms, tuple(items), node.pos[0])


def _regexes(value: Any) -> Any:
    """``re:...`` texts as compiled patterns, at any depth (details, lists, tags).

    >>> _regexes({"fields": {"attrs.channel": "re:^onl"}, "n": ["re:x", 1]})["n"][0].pattern
    'x'
    """
    if isinstance(value, str) and value.startswith("re:"):
        return re.compile(value[3:])
    if isinstance(value, dict):
        return {k: _regexes(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_regexes(v) for v in value]
    return value


def _expected(node: _Node, start_ms: int | None) -> ExpectedWarning:
    allowed = (
        *IDENTITY,
        "ts",
        *(f for f in WARNING_FIELDS if f not in ("rule_id", "key", "stage")),
    )
    node.only(allowed)
    key = node.need("key")
    if isinstance(key, list):
        key = keyparts.join(k if isinstance(k, str) else keyparts.scalar_text(k) for k in key)
    fields: list[tuple[str, Any]] = []
    for name, value in node.node.items():
        if name in IDENTITY:
            continue
        if name == "ts":
            name, value = "ts_ms", node.at("ts", start_ms)
        else:
            try:
                value = _regexes(value)
            except re.error as exc:
                raise node.fail(name, f"'{name}' has a bad regular expression: {exc}") from None
        fields.append((name, value))
    stage = node.node.get("stage", DEFAULT_STAGE)
    return ExpectedWarning(str(node.need("rule")), str(key), str(stage), tuple(fields), node.pos[0])
