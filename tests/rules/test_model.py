"""Rule files: typed errors that name file:line:col and say how to fix it."""

from pathlib import Path

import pytest

from rules import RuleError, RuleSetError, load_rules
from rules.model import parse_rule

LIBRARY = Path(__file__).resolve().parents[2] / "rules" / "library"

GOOD = """\
id: r-one
title: t
type: threshold
match: {type: a.b}
group_by: [attrs.k]
window: 10m
condition: {gte: 3}
"""


def error_of(text: str) -> RuleError:
    with pytest.raises(RuleError) as info:
        parse_rule(text, "rules/r.yaml")
    return info.value


def test_bad_window_names_line_and_fix():
    err = error_of(GOOD.replace("window: 10m", "window: ten minutes"))
    assert (err.path, err.line) == ("rules/r.yaml", 6)
    assert "must be a duration like '10m'" in str(err)
    assert str(err).startswith("rules/r.yaml:6:1: ")


def test_duplicate_key_rejected():
    err = error_of(GOOD + "window: 1h\n")
    assert err.line == 8 and "duplicate key 'window' (first at line 6)" in err.message


def test_unknown_key_rejected_with_allowed_list():
    err = error_of(GOOD + "windw: 1h\n")
    assert err.line == 8 and "unknown key 'windw'" in err.message and "window" in err.message


def test_unknown_operator_points_at_the_field():
    err = error_of(GOOD.replace("{type: a.b}", "{type: a.b, attrs.n|above: 3}"))
    assert err.line == 4 and "unknown modifier 'above'" in err.message


def test_yaml_syntax_error_has_position():
    err = error_of("id: x\ntitle: [unclosed\n")
    assert err.path == "rules/r.yaml" and err.line >= 2 and "YAML syntax error" in err.message


def test_unknown_type_lists_known_types():
    err = error_of(GOOD.replace("type: threshold", "type: thresh"))
    assert err.line == 3 and "threshold, absence, anomaly" in err.message


def test_logic_hash_ignores_wording_but_not_logic():
    a = parse_rule(GOOD, "r.yaml")
    b = parse_rule(GOOD.replace("title: t", "title: another wording"), "r.yaml")
    c = parse_rule(GOOD.replace("gte: 3", "gte: 4"), "r.yaml")
    assert a.logic_hash == b.logic_hash != c.logic_hash


def test_folder_with_one_bad_file_is_rejected_whole(tmp_path):
    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "b.yaml").write_text(GOOD.replace("r-one", "r-two").replace("10m", "10 min"))
    with pytest.raises(RuleSetError) as info:
        load_rules(tmp_path)
    [err] = info.value.errors
    assert err.path.endswith("b.yaml") and err.line == 6


def test_duplicate_rule_ids_across_files(tmp_path):
    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "b.yaml").write_text(GOOD)
    with pytest.raises(RuleSetError, match="duplicate rule id 'r-one'"):
        load_rules(tmp_path)


def test_shipped_library_loads():
    ids = {r.id for r in load_rules(LIBRARY).rules}
    assert {"approval-overdue", "repeated-submissions", "hotline-surge", "staff-bulk-access"} <= ids
