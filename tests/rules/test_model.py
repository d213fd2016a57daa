"""Rule files: typed errors that name file:line:col and say how to fix it."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rule_factories import T0, ev

from rules import RuleError, RuleSetError, load_rules
from rules.language.model import parse_rule

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
    assert (
        err.line == 3
        and "unknown rule type" in err.message
        and "did you mean 'threshold'" in err.message
    )


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


# --- bad input: each a typed error with file, line and a fix ------------------------------

THRESHOLD = GOOD


@pytest.mark.parametrize(
    ("change", "line", "col", "message"),
    [
        (
            ("condition: {gte: 3}", 'condition: {gte: 3}\nwhere: "region > 5"'),
            8,
            16,
            "in expression: '>' compares text with a number",
        ),
        (
            ("condition: {gte: 3}", "condition: {gte: 3}\nwhere: attrs.n >"),
            8,
            17,
            "expected a value",
        ),
        (("condition: {gte: 3}", "condition: {between: [5, 1]}"), 7, 13, "low end first"),
        (("condition: {gte: 3}", "condition: {above: 3}"), 7, 13, "unknown comparison 'above'"),
        (
            ("condition: {gte: 3}", "condition: {gte: 3}\naggregate: percentile(attrs.x, 150)"),
            8,
            1,
            "percentile must be a number from 0 to 100",
        ),
        (
            ("condition: {gte: 3}", "condition: {gte: 3}\naggregate: median(attrs.x)"),
            8,
            1,
            "unknown aggregate 'median'",
        ),
        (("window: 10m", "window: 0m"), 6, 1, "'window' must be a duration like '10m'"),
        (("group_by: [attrs.k]", "group_by: [k]"), 5, 11, "unknown field 'k': use attrs.k"),
        (("title: t", "title: t\nstatus: live"), 3, 1, "'live' is not allowed"),
        (
            ("title: t", "title: t\noutput: {title: '{valeu} times'}"),
            3,
            10,
            "unknown placeholder {valeu}: did you mean {value}?",
        ),
        (("title: t", "title: t\nresolve: {on: fulfilled}"), 3, 1, "resolve: {on: cleared}"),
        (
            ("title: t", "title: t\noutput: {title: '{value:.2q} times'}"),
            3,
            10,
            "{value:.2q} has a format Python cannot apply",
        ),
        (("{type: a.b}", "{attrs.n|gte: many}"), 4, 9, "needs a number"),
        (("{type: a.b}", "{attrs.ds: $list:nope}"), 4, 9, "unknown list 'nope'"),
        (("id: r-one", "id: R One"), 1, 1, "must be 2-63 lowercase letters"),
        (("title: t", "title: t\ncreated: 2026-02-30"), 3, 10, "'2026-02-30' is not a date"),
        (("title: t", "title: !!int abc"), 2, 8, "'abc' is not a whole number"),
        (
            ("condition: {gte: 3}", "condition: {gte: 5, lte: 2}"),
            7,
            1,
            "no value can meet {gte: 5, lte: 2}",
        ),
        (("condition: {gte: 3}", "condition: {gt: 2, lt: 2}"), 7, 1, "could never fire"),
    ],
)
def test_bad_input_is_a_typed_error_with_position(change, line, col, message) -> None:
    err = error_of(THRESHOLD.replace(*change))
    assert isinstance(err, RuleError) and err.path == "rules/r.yaml"
    assert (err.line, err.col) == (line, col), str(err)
    assert message in err.message


IMPOSSIBLE = [
    (
        """id: s1\ntitle: t\ntype: spike\nmatch: {type: a.b}\ngroup_by: [region]\n"""
        """window: 1h\nstep: 7m\n"""
        """condition: {ratio_gte: 2}\n""",
        "'step' must divide",
    ),
    (
        """id: s1\ntitle: t\ntype: spike\nmatch: {type: a.b}\ngroup_by: [region]\nwindow: 1d\n"""
        """reference: {period: 1h}\ncondition: {ratio_gte: 2}\n""",
        "period must be at least the window",
    ),
    (
        """id: s1\ntitle: t\ntype: spike\nmatch: {type: a.b}\ngroup_by: [region]\nwindow: 4m\n"""
        """reference: {period: 7d, count: 52}\ncondition: {ratio_gte: 2}\n""",
        "more than 20000 steps",
    ),
    (
        """id: a1\ntitle: t\ntype: absence\ngroup_by: [attrs.k]\nanchor: {type: a.b}\n"""
        """deadline: {after: 1d, workdays: 3}\n""",
        "exactly one of",
    ),
    (
        """id: a1\ntitle: t\ntype: absence\ngroup_by: [attrs.k]\nanchor: {type: a.b}\n"""
        """deadline: {after: 1d}\nstages: [{at: 100%, name: late}, {at: 50%, name: soon}]\n""",
        "rising order",
    ),
    (
        """id: a1\ntitle: t\ntype: absence\ngroup_by: [attrs.k]\nanchor: {type: a.b}\n"""
        """deadline: {after: 1d}\nheartbeat: {match: {type: x.y}, every: 1h}\n""",
        "not a heartbeat",
    ),
    (
        """id: r1\ntitle: t\ntype: ratio\nmatch: {type: a.b}\nnumerator: {attrs.x: 1}\n"""
        """group_by: [region]\nwindow: 1d\ncondition: {gt: 40}\n""",
        "share from 0 to 1",
    ),
    (
        """id: q1\ntitle: t\ntype: sequence\ngroup_by: [region]\nwithin: 1d\n"""
        """steps: [{name: one, match: {type: a.b}}]\n""",
        "at least 2 item",
    ),
    (
        """id: t1\ntitle: t\ntype: threshold\ngroup_by: [region]\nwindow: 1d\n"""
        """condition: {gte: 1}\n""",
        "needs 'match'",
    ),
    (
        """id: x1\ntitle: t\ntype: threshold\nmatch: {type: a.b}\ngroup_by: [region]\n"""
        """window: 1h\n"""
        """condition: {gte: 1}\nexceptions: [{name: e, match: {region: '1'}, approved_by: li}]\n""",
        "needs 'reason'",
    ),
    (
        """id: x1\ntitle: t\ntype: threshold\nmatch: {type: a.b}\ngroup_by: [region]\n"""
        """window: 1h\n"""
        """condition: {gte: 1}\nexceptions: [{name: e, match: {region: '1'}, reason: r, """
        """approved_by: li, expires: someday}]\n""",
        "must be a date like 2026-12-31",
    ),
]


@pytest.mark.parametrize(("text", "message"), IMPOSSIBLE)
def test_impossible_rules_are_rejected(text: str, message: str) -> None:
    assert message in error_of(text).message


def test_where_error_in_a_block_scalar_points_at_its_line() -> None:
    err = error_of(GOOD + "where: |\n  attrs.n > 1 and\n  region > 5\n")
    assert err.line == 10 and "compares text with a number" in err.message


def test_empty_and_non_mapping_files() -> None:
    assert "the file is empty" in error_of("").message
    assert "one mapping" in error_of("- a\n- b\n").message
    assert "rule needs 'type'" in error_of("id: x1\ntitle: t\n").message


def test_yaml_11_booleans_stay_text() -> None:
    rule = parse_rule(GOOD + "resolve: {on: cleared}\n", "r.yaml")
    assert rule.resolve is not None and rule.resolve.on == "cleared"


def test_logic_hash_counts_lists_and_macros_it_uses(tmp_path) -> None:
    text = GOOD.replace("{type: a.b}", "{type: a.b, attrs.ds: $list:hot}")
    (tmp_path / "r.yaml").write_text(text)
    (tmp_path / "_shared.yaml").write_text("lists: {hot: [a, b]}\n")
    first = load_rules(tmp_path).rules[0].logic_hash
    (tmp_path / "_shared.yaml").write_text("lists: {hot: [a, b, c]}\n")
    assert load_rules(tmp_path).rules[0].logic_hash != first


def test_wording_severity_output_and_exceptions_keep_the_logic_hash() -> None:
    base = parse_rule(GOOD, "r.yaml").logic_hash
    reworded = GOOD.replace(
        "title: t",
        "title: other\nseverity: critical\ndescription: d\n"
        "output: {title: '{value}'}\nsuppress: {for: 1d}\n"
        "exceptions: [{name: e, match: {region: '1'}, reason: r, "
        "approved_by: li, expires: 2026-12-31}]",
    )
    assert parse_rule(reworded, "r.yaml").logic_hash == base
    assert parse_rule(GOOD + "where: attrs.n > 1\n", "r.yaml").logic_hash != base


def test_resolve_counts_for_the_logic_hash_but_its_wording_does_not() -> None:
    """Adding ``resolve`` changes when keys are re-evaluated, so hot reload must start that
    rule fresh; rewording it afterwards keeps its state."""
    base = parse_rule(GOOD, "r.yaml")
    resolving = parse_rule(GOOD + "resolve: {on: cleared}\n", "r.yaml")
    reworded = parse_rule(
        GOOD.replace("title: t", "title: other\nseverity: high") + "resolve: {on: cleared}\n",
        "r.yaml",
    )
    assert resolving.logic_hash != base.logic_hash
    assert reworded.logic_hash == resolving.logic_hash


# --- folders: shared lists and macros, tests/ ignored -------------------------------------


def test_shared_lists_and_macros_across_files(tmp_path) -> None:
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "datasets.yaml").write_text(
        "lists:\n  hot: {items: [medical], owner: ds}\n"
    )
    (tmp_path / "_macros.yaml").write_text(
        "macros:\n  night: 'hour(ts_ms) < 6'\n  hot_night: night and attrs.ds in $list:hot\n"
    )
    (tmp_path / "r.yaml").write_text(GOOD + "where: hot_night\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "r.yaml").write_text("not: [a rule")
    ruleset = load_rules(tmp_path)
    [rule] = ruleset.rules
    assert rule.macros_used == {"night", "hot_night"} and rule.lists_used == {"hot"}
    assert set(ruleset.lists) == {"hot"} and set(ruleset.macros) == {"night", "hot_night"}


def test_a_macro_must_be_defined_before_use(tmp_path) -> None:
    (tmp_path / "_macros.yaml").write_text("macros:\n  a: b and true\n  b: 'true'\n")
    with pytest.raises(RuleSetError) as info:
        load_rules(tmp_path)
    [err] = info.value.errors
    assert (
        err.path.endswith("_macros.yaml") and err.line == 2 and "unknown field 'b'" in err.message
    )


def test_a_shared_name_is_defined_once(tmp_path) -> None:
    (tmp_path / "_a.yaml").write_text("lists: {hot: [a]}\n")
    (tmp_path / "_b.yaml").write_text("macros: {hot: 'true'}\n")
    with pytest.raises(RuleSetError, match="'hot' is already defined at"):
        load_rules(tmp_path)


def test_unknown_macro_suggests_a_name(tmp_path) -> None:
    (tmp_path / "_m.yaml").write_text("macros: {night_time: 'hour(ts_ms) < 6'}\n")
    (tmp_path / "r.yaml").write_text(GOOD + "where: night_tme\n")
    with pytest.raises(RuleSetError, match="did you mean the macro 'night_time'"):
        load_rules(tmp_path)


def test_every_bad_file_is_listed(tmp_path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD.replace("gte: 3", "gte: x"))
    (tmp_path / "b.yaml").write_text("id: [\n")
    (tmp_path / "c.yaml").write_bytes(b"\xff\xfe")
    with pytest.raises(RuleSetError) as info:
        load_rules(tmp_path)
    assert sorted(e.path.rsplit("/", 1)[-1] for e in info.value.errors) == [
        "a.yaml",
        "b.yaml",
        "c.yaml",
    ]


def test_numbers_in_exponent_form_are_numbers() -> None:
    rule = parse_rule(GOOD.replace("gte: 3", "gte: 1e6"), "r.yaml")
    assert rule.spec.condition.parts == (("gte", 1_000_000.0),)


ANOMALY = """\
id: odd-one
title: t
type: anomaly
match: {type: a.b}
group_by: [attrs.k]
detector: {name: gaussian}
features: [count_1h]
"""


@pytest.mark.parametrize(
    ("change", "line", "message"),
    [
        (("{name: gaussian}", "{name: nope}"), 6, "unknown detector 'nope'"),
        (
            ("{name: gaussian}", "{name: gaussian, params: {bogus: 1}}"),
            6,
            "has no parameter 'bogus'",
        ),
        (
            ("{name: gaussian}", "{name: gaussian, params: {warmup: abc}}"),
            6,
            "warmup must be a whole number",
        ),
        (
            ("{name: gaussian}", "{name: profile, params: {direction: up}}"),
            6,
            "direction must be both, high or low",
        ),
        (("[count_1h]", "[nosuch]"), 7, "unknown feature 'nosuch'"),
        (("[count_1h]", "[distinct_1h]"), 7, "needs a field"),
    ],
)
def test_a_detector_rule_is_checked_when_it_is_read(change, line, message) -> None:
    """Not at its first event, where the error would stop every rule on that event."""
    err = error_of(ANOMALY.replace(*change))
    assert err.line == line and message in err.message, str(err)


def test_a_yml_file_is_named_not_skipped(tmp_path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "b.yml").write_text(GOOD.replace("r-one", "r-two"))
    with pytest.raises(RuleSetError) as info:
        load_rules(tmp_path)
    [err] = info.value.errors
    assert err.path.endswith("b.yml") and "rename it b.yaml" in err.message


def test_a_rule_in_a_subfolder_is_told_to_move_up(tmp_path) -> None:
    (tmp_path / "more").mkdir()
    (tmp_path / "more" / "b.yaml").write_text(GOOD)
    with pytest.raises(RuleSetError) as info:
        load_rules(tmp_path)
    [err] = info.value.errors
    assert err.line == 1 and "move it up" in err.message


@pytest.mark.parametrize(
    ("text", "line", "col", "fix"),
    [
        ('id: x1\ntitle "t"\ntype: match\n', 2, 1, "with ': ' after the key"),
        ("id: x1\nmatch: [a, b\ntype: match\n", 2, 8, "close the list with ']'"),
        ('id: x1\ntitle: "abc\n', 2, 8, "close the quoted text"),
        ("id: x1\n\ttitle: t\n", 2, 1, "indent with spaces, not tabs"),
    ],
)
def test_yaml_syntax_errors_point_where_the_mistake_is_and_say_how_to_fix_it(
    text, line, col, fix
) -> None:
    err = error_of(text)
    assert (err.line, err.col) == (line, col) and fix in err.message, str(err)


@pytest.mark.parametrize(
    ("where", "line"),
    [
        ("where: >\n  attrs.n > 3 and\n    region > 5\n", 10),
        ("where: |\n  attrs.n > 3 and\n    region > 5\n", 10),
        ('where: "attrs.n > 3 and\n    region > 5"\n', 9),
    ],
)
def test_an_error_in_a_where_written_over_lines_points_at_its_character(where, line) -> None:
    err = error_of(GOOD + where)
    assert (err.line, err.col) == (line, 12) and "compares text with a number" in err.message


def matcher(text: str, where: str) -> Callable[[Any], bool]:
    """The rule's ``match`` or ``where`` as a predicate on events."""
    rule = parse_rule(text, "rules/r.yaml")
    if where == "match":
        return rule.match.matches
    assert rule.where is not None
    return rule.where.holds


def where_matches(pattern: str) -> str:
    """A ``where`` line matching ``pattern`` (a backslash is written twice in its quotes)."""
    quoted = pattern.replace("\\", "\\\\")
    return f"where: attrs.name matches '{quoted}'\n"


# Patterns the backtracking checker used to refuse as catastrophic: rule regexes now run
# on RE2 (linear time), so they load and answer right away on a long adversarial value.
CATASTROPHIC = [r"^(\w+\s?)*$", r"^(a+)+$", r"^(a+|b)+$", r"^(.*a)+$", r"^(x*y?)*$"]


@pytest.mark.parametrize("pattern", CATASTROPHIC)
@pytest.mark.parametrize("where", ["match", "where"])
def test_a_regular_expression_that_would_backtrack_forever_is_accepted_and_answers(
    pattern: str, where: str
) -> None:
    """One 50 000-character value used to hold a partition for minutes under Python's re."""
    if where == "match":
        text = GOOD.replace("{type: a.b}", f"{{type: a.b, attrs.name|re: '{pattern}'}}")
    else:
        text = GOOD + where_matches(pattern)
    holds = matcher(text, where)
    long = "a" * 50_000
    assert not holds(ev(T0, name=long + "!"))
    expected = pattern != r"^(x*y?)*$"  # x and y only: no a's
    assert holds(ev(T0, name=long)) is expected


def test_ordinary_repetitions_are_accepted() -> None:
    text = GOOD.replace("{type: a.b}", "{type: a.b, attrs.host|re: '^(?:[a-z]+\\.)*[a-z]+$'}")
    assert parse_rule(text, "rules/r.yaml").id == "r-one"


@pytest.mark.parametrize(
    ("pattern", "value", "found"),
    [
        (r"^(a+|b)+$", "abba", True),
        (r"^(?:[a-z]+|-)*$", "ab-c", True),
        (r"^(.*a)+$", "xaya", True),
        (r"^(x*y?)*$", "xyxx", True),
        (r"((a|b)c+)*", "", True),
        (r"(?:\s*,\s*)+", "a , b", True),
        (r"^(\d+)(,\d+)*$", "1,22,", False),
        (r"^([a-z]+ )+$", "ab cd ", True),
        (r"^stf-[0-9]+$", "STF-1", False),
        (r"(?i)^stf-[0-9]+$", "STF-1", True),  # flags as Python writes them
        (r"^(?P<year>\d{4})-\d{2}$", "2026-03", True),  # named groups too
        (r"^\w+$", "浙江省_330106", True),  # \w, \d, \s keep their Unicode meaning
        (r"^\d+$", "١٢٣", True),
        (r"\s", "a\u3000b", True),
        (r"^[\w.-]+$", "中文.v-1", True),
        (r"^\W+$", "中文", False),
        (r"ok\Z", "is ok", True),  # \Z is the end of the text
        (r"^a{,3}$", "aaa", True),
        (r"^caf\u00e9$", "café", True),
        (r"dit", "audit", True),  # search, not fullmatch
    ],
)
def test_rule_regexes_keep_python_meaning(pattern: str, value: str, found: bool) -> None:
    from rules.matching.regex import compile_regex

    assert compile_regex(pattern).search(value) is found
    text = GOOD.replace("{type: a.b}", f"{{type: a.b, attrs.v|re: '{pattern}'}}")
    assert matcher(text, "match")(ev(T0, v=value)) is found


@pytest.mark.parametrize(
    ("pattern", "fix"),
    [
        (r"(a)\1", "has no backreferences: match the repeated part again"),
        (r"(?P<n>a)(?P=n)", "has no backreferences"),
        (r"x(?=y)", "has no lookaround"),
        (r"(?<!x)y", "has no lookaround"),
        (r"(?!x)y", "has no lookaround"),
        (r"a++", "drop the possessive + or the atomic (?>...)"),
        (r"(?>ab)", "drop the possessive + or the atomic (?>...)"),
        (r"a{1,2000}", "repetitions up to 1000"),
        (r"(?x) a b", "drop (?x)"),
        (r"[^\W\d_]", "like [^\\p{L}\\p{N}_] for none of \\w or \\p{L} for letters"),
    ],
)
@pytest.mark.parametrize("where", ["match", "where"])
def test_a_pattern_re2_cannot_run_is_refused_when_the_file_loads(
    pattern: str, fix: str, where: str
) -> None:
    if where == "match":
        change = GOOD.replace("{type: a.b}", f"{{type: a.b, attrs.name|re: '{pattern}'}}")
        at = (4, 20)
    else:
        change = GOOD + where_matches(pattern)
        at = (8, 27)
    err = error_of(change)
    assert str(err).startswith(f"rules/r.yaml:{at[0]}:{at[1]}: "), str(err)
    assert "bad regular expression: regular expressions run on RE2, which" in err.message
    assert fix in err.message, str(err)
