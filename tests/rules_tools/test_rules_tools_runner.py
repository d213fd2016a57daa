"""``rules test``: promtool-style unit tests of rules, their diffs, JUnit XML, exit codes."""

from __future__ import annotations

from xml.etree import ElementTree

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from rules_tools_fixtures import LIBRARY, OVERDUE, SURGE

from rules import RuleSet, load_rules
from rules.language.model import parse_rule
from rules.tools.junit import junit_xml
from rules.tools.testfile import TestFileError, load_test_spec
from rules.tools.testing import expand_test_paths, format_results, run_file, run_test

HEAD = """\
rule_files: [../rules/surge.yaml, ../rules/overdue.yaml]
tests:
"""

# Three tickets in district 330106 within 20 minutes: 'surge' fires at the third (+20m).
SURGE_CASE = """\
  - name: {name}
    start: '2026-03-02T09:00:00+08:00'
    defaults: {{type: hotline.ticket, region: '330106'}}
    input:
      - {{at: +0m, repeat: {{every: 10m, times: 3}}}}
    expect:
      - at: +1h
        warnings: {warnings}
"""


def case(name: str, warnings: str) -> str:
    return SURGE_CASE.format(name=name, warnings=warnings)


@pytest.fixture
def rules_dir(write_files):
    return write_files("rules", {"surge.yaml": SURGE, "overdue.yaml": OVERDUE})


@pytest.fixture
def run_cases(rules_dir, write_files):
    """Write a test file holding the given cases next to the rules and run it."""

    def run(*cases: str):
        path = write_files("tests", {"t.yaml": HEAD + "".join(cases)}) / "t.yaml"
        result = run_file(path)
        assert result.errors == []
        return result

    return run


def test_a_correct_test_passes(run_cases):
    good = "[{rule: surge, key: '330106', stage: fired, severity: high, value: 3, ts: +20m}]"
    [r] = run_cases(case("fires at the third", good)).results
    assert r.ok, r.problems


def test_wrong_key_fails_with_missing_and_unexpected(run_cases):
    [r] = run_cases(case("wrong key", "[{rule: surge, key: '330999'}]")).results
    assert not r.ok
    [problem] = r.problems
    assert "at 2026-03-02T10:00:00+08:00 (+1h)" in problem
    assert "- missing     surge key=330999 stage=fired" in problem
    assert "(this rule fired for key='330106')" in problem
    assert "+ unexpected  surge key=330106 stage=fired severity=high" in problem


def test_wrong_stage_fails_and_names_the_stage_that_fired(run_cases):
    [r] = run_cases(case("wrong stage", "[{rule: surge, key: '330106', stage: overdue}]")).results
    assert "- missing     surge key=330106 stage=overdue" in r.problems[0]
    assert "(this rule fired stage='fired' for this key)" in r.problems[0]


def test_unexpected_warning_fails_an_empty_expectation(run_cases):
    [r] = run_cases(case("nothing expected", "[]")).results
    assert not r.ok
    assert "+ unexpected  surge key=330106" in r.problems[0]
    assert "- missing" not in r.problems[0]


def test_empty_expectation_passes_when_nothing_fired_in_its_interval(run_cases):
    quiet = """\
  - name: fired before the first check, silent after
    start: '2026-03-02T09:00:00+08:00'
    defaults: {type: hotline.ticket, region: '330106'}
    input:
      - {at: +0m, repeat: {every: 10m, times: 3}}
      - {at: +2h, region: '330102'}
    expect:
      - {at: +19m, warnings: []}
      - {at: +20m, warnings: [{rule: surge, key: '330106'}]}
      - {at: +3h, warnings: []}
"""
    [r] = run_cases(quiet).results
    assert r.ok, r.problems


def test_regex_and_subset_matching_of_other_fields(run_cases):
    ok = "[{rule: surge, key: '330106', title: 're:^Surge in 330106: 3'}]"
    bad = "[{rule: surge, key: '330106', title: 're:^Calm', severity: low}]"
    result = run_cases(case("regex matches", ok), case("regex and severity differ", bad))
    first, second = result.results
    assert first.ok, first.problems
    [problem] = second.problems
    assert "~ differs     surge key=330106 stage=fired" in problem
    assert "title: expected re:'^Calm', got 'Surge in 330106: 3" in problem
    assert "severity: expected 'low', got 'high'" in problem


def test_missing_warning_that_fired_in_another_interval_says_when(run_cases):
    late = """\
  - name: expected too early
    start: '2026-03-02T09:00:00+08:00'
    defaults: {type: hotline.ticket, region: '330106'}
    input:
      - {at: +0m, repeat: {every: 10m, times: 3}}
    expect:
      - {at: +10m, warnings: [{rule: surge, key: '330106'}]}
      - {at: +1h, warnings: []}
"""
    [r] = run_cases(late).results
    first, second = r.problems
    assert "- missing     surge key=330106 stage=fired (line 9)" in first
    assert "(it fired at 2026-03-02T09:20:00+08:00: in another check interval)" in first
    assert "+ unexpected  surge key=330106" in second


def test_details_match_as_a_subset_and_differences_name_the_path(run_cases):
    window = (
        "[{rule: surge, key: '330106', window_start_ms: 1772410800000,"
        " details: {entity: {kind: citizen}}}]"
    )
    wrong = "[{rule: surge, key: '330106', details: {entity: {kind: enterprise}, nothing: 1}}]"
    ok, bad = run_cases(case("subset holds", window), case("subset differs", wrong)).results
    assert ok.ok, ok.problems
    assert "details.entity.kind: expected 'enterprise', got 'citizen'" in bad.problems[0]
    assert "details.nothing: expected 1, missing" in bad.problems[0]


def test_seed_events_are_learned_without_warnings(run_cases):
    seeded = """\
  - name: seeded window
    start: '2026-03-02T09:00:00+08:00'
    defaults: {type: hotline.ticket, region: '330106'}
    seed:
      - {at: +0m, repeat: {every: 10m, times: 2}}
    input:
      - {at: +20m}
    expect:
      - {at: +1h, warnings: [{rule: surge, key: '330106', value: 3, ts: +20m}]}
"""
    [r] = run_cases(seeded).results
    assert r.ok, r.problems
    [r] = run_cases(
        seeded.replace("      - {at: +0m, repeat: {every: 10m, times: 2}}\n", "")
    ).results
    assert "- missing     surge key=330106" in r.problems[0]


def test_absence_stage_and_deadline_on_virtual_time(run_cases):
    overdue = """\
  - name: overdue after a day
    start: '2026-03-02T09:00:00+08:00'
    input:
      - {at: +0m, type: app.accepted, app: A-1}
      - {at: +1h, type: app.accepted, app: A-2}
      - {at: +2h, type: app.decided, app: A-2}
    expect:
      - {at: +23h59m, warnings: []}
      - at: +1d
        warnings: [{rule: overdue, key: A-1, stage: overdue, ts: '2026-03-03T09:00:00+08:00'}]
"""
    [r] = run_cases(overdue).results
    assert r.ok, r.problems


def test_report_reads_like_a_test_runner(run_cases):
    result = run_cases(case("passes", "[{rule: surge, key: '330106'}]"), case("fails", "[]"))
    text = format_results([result])
    assert "  ok    passes" in text and "  FAIL  fails" in text
    assert text.splitlines()[-1].startswith("2 tests: 1 passed, 1 failed")


def test_junit_xml_is_well_formed_with_the_failure_count(run_cases, write_files):
    failing = run_cases(
        case("ok", "[{rule: surge, key: '330106'}]"), case("a", "[]"), case("b", "[]")
    )
    broken_path = (
        write_files("tests", {"broken.yaml": "rule_files: [x.yaml]\ntests: []\n"}) / "broken.yaml"
    )
    broken = run_file(broken_path)
    root = ElementTree.fromstring(junit_xml([failing, broken]))
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("4", "2", "1")
    suite = root.find("testsuite")
    assert suite is not None and suite.get("failures") == "2"
    failures = root.findall(".//testcase/failure")
    assert len(failures) == 2 and "+ unexpected  surge" in (failures[0].text or "")
    assert [c.get("name") for c in suite.findall("testcase")] == ["ok", "a", "b"]


def test_test_file_errors_name_file_and_line():
    text = HEAD + "  - name: x\n    input: []\n    expect:\n      - {at: +1h, warnings: []}\n"
    with pytest.raises(TestFileError) as info:
        load_test_spec(text, "t.yaml")
    assert (info.value.path, info.value.line) == ("t.yaml", 6)
    assert "offset '+1h' needs a 'start:' time" in info.value.message
    timed = text.replace("{at: +1h, warnings: []}", "{at: '2026-03-02T10:00:00+08:00'}")
    with pytest.raises(TestFileError) as info:
        load_test_spec(timed, "t.yaml")
    assert info.value.line == 6 and "write 'warnings: []' for none" in info.value.message


def test_unknown_warning_field_is_rejected_at_its_line():
    text = HEAD + (
        "  - start: '2026-03-02T09:00:00+08:00'\n    expect:\n"
        "      - at: +1h\n        warnings:\n          - {rule: surge, key: k, severty: high}\n"
    )
    with pytest.raises(TestFileError) as info:
        load_test_spec(text, "t.yaml")
    assert info.value.line == 7 and "unknown key 'severty'" in info.value.message


def test_shipped_library_tests_pass_and_cover_every_rule():
    files = expand_test_paths([LIBRARY / "tests"])
    results = [run_file(p) for p in files]
    assert all(not fr.errors and fr.failed == 0 for fr in results), format_results(results)
    tested = {p.name.split(".")[0] for p in files}
    assert {r.id for r in load_rules(LIBRARY).rules} <= tested


def test_cli_test_exit_codes_and_junit_file(cli, run_cases, write_files, tmp_path, capsys):
    run_cases(case("passes", "[{rule: surge, key: '330106'}]"))
    good = tmp_path / "tests" / "t.yaml"
    assert cli(["rules", "test", str(good)]) == 0
    write_files("tests", {"bad.yaml": HEAD + case("fails", "[]")})
    junit = tmp_path / "out.xml"
    assert cli(["rules", "test", str(tmp_path / "tests"), "--junit", str(junit)]) == 1
    assert ElementTree.parse(junit).getroot().get("failures") == "1"
    assert cli(["rules", "test", str(good), "--run", "^passes$"]) == 0
    assert cli(["rules", "test", str(good), "--run", "nothing-like-this"]) == 2
    write_files("tests", {"broken.yaml": "tests: [\n"})
    assert cli(["rules", "test", str(tmp_path / "tests" / "broken.yaml")]) == 2
    assert cli(["rules", "test", str(tmp_path / "missing.yaml")]) == 2
    assert "broken.yaml:" in capsys.readouterr().out


SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 10**6), st.text(max_size=12),
    st.sampled_from(["+5m", "2026-03-02T09:00:00+08:00", "re:[", "hotline.ticket", "0"]),
)  # fmt: skip
KEYS = st.sampled_from(
    ["rule_files", "rules", "tests", "name", "start", "input", "expect", "at", "warnings",
     "rule", "key", "stage", "repeat", "every", "times", "type", "entity", "ts", "seed",
     "defaults", "lateness", "title", "details", "attrs", "region", "x"]
)  # fmt: skip
TREES = st.recursive(
    SCALARS,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(KEYS, kids, max_size=5),
    max_leaves=25,
)


OFFSETS = st.sampled_from(["+0m", "+5m", "+1d2h", "90s", "2026-03-02T10:00:00+08:00", "soon"])
FIELDS = st.dictionaries(KEYS, TREES, max_size=3)
INPUTS = st.lists(
    st.fixed_dictionaries(
        {"at": OFFSETS, "type": st.sampled_from(["a.b", "x", 5])},
        optional={"repeat": TREES, "entity": TREES, "attrs": TREES, "region": SCALARS},
    ),
    max_size=3,
)
WARNINGS = st.lists(
    st.fixed_dictionaries(
        {"rule": st.sampled_from(["surge", "x"]), "key": TREES},
        optional={
            "stage": SCALARS,
            "title": SCALARS,
            "ts": OFFSETS,
            "details": TREES,
            "x": SCALARS,
        },
    ),
    max_size=2,
)
CASES = st.lists(
    st.fixed_dictionaries(
        {
            "start": st.sampled_from(["2026-03-02T09:00:00+08:00", "2026-03-02", "never"]),
            "input": INPUTS,
            "expect": st.lists(
                st.fixed_dictionaries({"at": OFFSETS, "warnings": WARNINGS}), max_size=2
            ),
        },
        optional={"name": SCALARS, "defaults": FIELDS, "seed": INPUTS},
    ),
    max_size=2,
)
DOCS = st.dictionaries(KEYS, TREES, max_size=4) | st.fixed_dictionaries(
    {"rules": st.just("."), "tests": CASES}
)


@settings(max_examples=200, deadline=None)
@given(doc=DOCS)
def test_test_files_raise_only_typed_errors_and_never_crash_the_runner(doc):
    text = yaml.safe_dump(doc)
    try:
        spec = load_test_spec(text, "fuzz.yaml")
    except TestFileError as exc:
        assert exc.path == "fuzz.yaml" and exc.line >= 1 and exc.message
        return
    ruleset = RuleSet([parse_rule(SURGE, "surge.yaml")])
    for test in spec.tests:
        result = run_test(ruleset, test)
        assert all(isinstance(p, str) and p.startswith("at ") for p in result.problems)


BULK = f"""\
rule_files: ['{LIBRARY}/staff-bulk*.yaml']
defaults: {{type: data.access, region: '330106', account: stf-9, entity: 'staff:stf-9',
  dataset: household, purpose: case}}
tests:
  - name: a high then a critical warning, expected in either order
    start: '2026-03-02T09:00:00+08:00'
    input:
      - {{at: +0m, repeat: {{every: 10s, times: 130}}, citizen: 'cit-{{n}}'}}
    expect:
      - at: +1h
        warnings:
          - {{rule: staff-bulk-access, key: stf-9}}
          - {{rule: staff-bulk-access, key: stf-9, severity: high,
              details: {{top: {{attrs.purpose: [['re:^ca', 60]]}}}}}}
"""


def test_same_identity_warnings_pair_in_any_order_and_re_works_at_any_depth(write_files):
    """Also: an absolute glob in rule_files."""
    path = write_files("tests", {"bulk.yaml": BULK}) / "bulk.yaml"
    result = run_file(path)
    assert result.errors == []
    [r] = result.results
    assert r.ok, r.problems


def test_junit_xml_stays_well_formed_with_control_characters_in_names():
    from rules.tools.testing import CaseResult, FileResult

    results = [FileResult("t.yaml", [CaseResult("a\x1bb", ["+ unexpected key=cit\x1b[31m"])])]
    root = ElementTree.fromstring(junit_xml(results))
    case = root.find("testsuite/testcase")
    assert case is not None and case.get("name") == "a\\x1bb"
    assert "cit\\x1b[31m" in (case.findtext("failure") or "")
