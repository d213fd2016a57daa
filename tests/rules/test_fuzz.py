"""Fuzzing the loader: generated rule files and random mutations of the library never
raise anything but RuleError / RuleSetError."""

from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules import RuleError, RuleSetError, load_rules
from rules.language.model import COMMON, Rule, parse_rule
from rules.types.registry import names, rule_types

LIBRARY = Path(__file__).resolve().parents[2] / "rules" / "library"
TEXTS = [p.read_text(encoding="utf-8") for p in sorted(LIBRARY.glob("*.yaml"))]
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-10, 10**6),
    st.floats(allow_nan=True),
    st.sampled_from(
        [
            "1h",
            "10m",
            "0m",
            "5d",
            "80%",
            "attrs.k",
            "entity.id",
            "region",
            "count",
            "distinct(attrs.x)",
            "percentile(attrs.x, 95)",
            "$list:nope",
            "a.b",
            "attrs.n > 3",
            "region > 5",
            "{value}",
            "{nope}",
            "2026-12-31",
            "high",
        ]
    ),
    st.text(max_size=12),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.sampled_from(
                [
                    "type",
                    "attrs.k",
                    "attrs.n|gte",
                    "gte",
                    "lt",
                    "between",
                    "after",
                    "workdays",
                    "name",
                    "match",
                    "at",
                    "every",
                    "ratio_gte",
                    "fields",
                    "level",
                    "when",
                    "for",
                    "on",
                ]
            ),
            inner,
            max_size=4,
        ),
    ),
    max_leaves=12,
)
ALL_KEYS = sorted({f.name for f in COMMON} | {f.name for t in rule_types() for f in t.fields})


@st.composite
def rule_docs(draw: st.DrawFn) -> dict[str, object]:
    doc: dict[str, object] = {
        "id": draw(st.sampled_from(["r-1", "Bad Id", "x"])),
        "title": "t",
        "type": draw(st.sampled_from([*names(), "nope"])),
    }
    for key in draw(st.lists(st.sampled_from(ALL_KEYS), max_size=8, unique=True)):
        doc[key] = draw(values)
    return doc


def parses_or_rule_error(text: str) -> None:
    try:
        assert isinstance(parse_rule(text, "fuzz.yaml"), Rule)
    except RuleError as exc:
        assert exc.path == "fuzz.yaml" and exc.line >= 1 and exc.col >= 1 and exc.message


@FAST
@given(rule_docs())
def test_generated_rule_files(doc: dict[str, object]) -> None:
    parses_or_rule_error(yaml.safe_dump(doc, allow_unicode=True))


@FAST
@given(st.sampled_from(TEXTS), st.data())
def test_mutated_library_files(text: str, data: st.DataObject) -> None:
    lines = text.splitlines(keepends=True)
    for _ in range(data.draw(st.integers(1, 3))):
        if not lines:
            break
        i = data.draw(st.integers(0, len(lines) - 1))
        op = data.draw(st.sampled_from(["drop", "dup", "cut", "insert", "indent"]))
        if op == "drop":
            del lines[i]
        elif op == "dup":
            lines.insert(i, lines[i])
        elif op == "cut":
            j = data.draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:j] + "\n"
        elif op == "insert":
            lines.insert(i, data.draw(st.text(max_size=20)) + "\n")
        else:
            lines[i] = "  " + lines[i]
    parses_or_rule_error("".join(lines))


@FAST
@given(st.text(max_size=200))
def test_arbitrary_text(text: str) -> None:
    parses_or_rule_error(text)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.binary(max_size=80), min_size=1, max_size=3))
def test_folders_of_garbage_raise_rule_set_errors(tmp_path_factory, blobs: list[bytes]) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    for i, blob in enumerate(blobs):
        (folder / f"f{i}.yaml").write_bytes(blob)
    try:
        load_rules(folder)
    except RuleSetError as exc:
        assert exc.errors and all(isinstance(e, RuleError) for e in exc.errors)


def test_deep_nesting_is_a_rule_error() -> None:
    parses_or_rule_error("id: x1\ntitle: t\ntype: match\nmatch: " + "[" * 5000 + "]" * 5000 + "\n")


RAW_TOKENS = [
    "2026-02-30",
    "2026-13-01T09:00:00+08:00",
    "!!int abc",
    "!!float x",
    "!!bool maybe",
    "!!timestamp never",
    "!!binary '%%%'",
    "!!python/name:os.system",
    "!!set {a, b}",
    "!!omap [a]",
    "1e6",
    "-2.5E-3",
    ".inf",
    "0x1F",
    "1_000",
    "~",
    "*nowhere",
    "&a [*a]",
]


@FAST
@given(
    st.lists(
        st.tuples(st.sampled_from(ALL_KEYS), st.sampled_from(RAW_TOKENS) | st.text(max_size=8)),
        min_size=1,
        max_size=5,
    )
)
def test_raw_yaml_values_the_dumper_would_quote(pairs: list[tuple[str, str]]) -> None:
    """Values written by hand, unquoted: bad dates, explicit tags, anchors, odd numbers."""
    body = "".join(f"{key}: {token}\n" for key, token in pairs)
    parses_or_rule_error("id: r-1\ntitle: t\ntype: threshold\n" + body)
