"""The shipped JSON Schema is generated from the parser's tables and is current; every
library file validates against it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from rules.language.schemagen import FILES, SCHEMA_DIR, render, rule_schema, shared_schema, write
from rules.language.shared import is_shared
from rules.language.yamlloc import load_located

LIBRARY = Path(__file__).resolve().parents[2] / "rules" / "library"


def as_json(path: Path) -> object:
    """YAML 1.2 as JSON data (``on:`` stays text, dates become text), as an editor's YAML
    language server sees it."""
    return json.loads(
        json.dumps(load_located(path.read_text(encoding="utf-8"), str(path)), default=str)
    )


@pytest.mark.parametrize("name", sorted(FILES))
def test_shipped_schema_is_current(name: str) -> None:
    shipped = (SCHEMA_DIR / name).read_text(encoding="utf-8")
    assert shipped == render(FILES[name]()), "run: python -m rules.language.schemagen"


def test_schemas_are_valid_json_schema() -> None:
    Draft202012Validator.check_schema(rule_schema())
    Draft202012Validator.check_schema(shared_schema())


@pytest.mark.parametrize("path", sorted(LIBRARY.glob("*.yaml")), ids=lambda p: p.name)
def test_library_files_validate(path: Path) -> None:
    data = as_json(path)
    schema = shared_schema() if is_shared(data) else rule_schema()
    errors = [e.message for e in Draft202012Validator(schema).iter_errors(data)]
    assert errors == []


BASE = {
    "id": "r1",
    "title": "t",
    "type": "threshold",
    "match": {"type": "a.b"},
    "group_by": ["attrs.k"],
    "window": "1h",
    "condition": {"gte": 3},
}


@pytest.mark.parametrize(
    "change",
    [
        {"window": "ten"},
        {"windw": "1h"},
        {"status": "live"},
        {"match": {"attrs.n|above": 1}},
        {"condition": {"between": [1]}},
        {"type": "thresh"},
        {"anchor": {"type": "a"}},
    ],
)
def test_schema_rejects_what_the_loader_rejects(change: dict[str, object]) -> None:
    data = {k: v for k, v in {**BASE, **change}.items()}
    assert list(Draft202012Validator(rule_schema()).iter_errors(data))


def test_schema_accepts_the_base_rule_and_a_match_free_absence() -> None:
    validator = Draft202012Validator(rule_schema())
    assert not list(validator.iter_errors(BASE))
    absence = {
        "id": "a1",
        "title": "t",
        "type": "absence",
        "group_by": ["attrs.k"],
        "anchor": {"type": "a.b"},
        "deadline": {"workdays": 5},
    }
    assert not list(validator.iter_errors(absence))


def test_write_creates_both_files(tmp_path: Path) -> None:
    written = write(tmp_path)
    assert sorted(p.name for p in written) == sorted(FILES)
    assert json.loads((tmp_path / "rule.schema.json").read_text())["title"] == "riskloop rule"
