"""``rules check``: parse errors with file:line:col, and each lint on a crafted bad folder."""

from __future__ import annotations

import json
from datetime import date

from rules_tools_fixtures import LIBRARY, OVERDUE, SURGE

from rules.tools.check import check_folder, format_json, format_text
from rules.tools.lint import LINTS

TODAY = date(2026, 3, 2)
DAY_MS = 86_400_000


def codes(report, code):
    return [i for i in report.issues if i.code == code]


def test_shipped_library_passes_with_no_warnings():
    report = check_folder(LIBRARY, today=TODAY)
    assert report.errors == []
    assert [i for i in report.issues if i.severity in ("error", "warning")] == []
    assert report.rules >= 5 and not report.failed("warning")


def test_parse_errors_are_listed_with_file_line_col(write_files):
    bad = SURGE.replace("window: 1h", "window: one hour")
    folder = write_files(
        "rules", {"a.yaml": SURGE, "b.yaml": bad.replace("id: surge", "id: other")}
    )
    report = check_folder(folder, today=TODAY)
    assert len(report.errors) == 1
    err = report.errors[0]
    assert (err.path, err.line) == (str(folder / "b.yaml"), 8)
    text = format_text(report)
    assert f"{folder / 'b.yaml'}:8:1: " in text and "duplicate" not in text
    assert report.failed()


def test_duplicate_id_lint_names_both_files_once(write_files):
    folder = write_files("rules", {"a.yaml": SURGE, "b.yaml": "# copy\n" + SURGE})
    report = check_folder(folder, today=TODAY)
    [issue] = codes(report, "duplicate-id")
    assert (issue.path, issue.line, issue.severity) == (str(folder / "b.yaml"), 2, "error")
    assert f"{folder / 'a.yaml'}:1" in issue.message
    # the loader's own duplicate error is not listed a second time
    assert not any("duplicate" in e.message for e in report.errors)
    assert f"{folder / 'b.yaml'}:2:1: error: " in format_text(report)


def test_window_over_retention_points_at_the_window(write_files):
    folder = write_files("rules", {"a.yaml": SURGE.replace("window: 1h", "window: 120d")})
    report = check_folder(folder, today=TODAY, retention_ms=90 * DAY_MS)
    [issue] = codes(report, "window-over-retention")
    assert (issue.line, issue.severity) == (8, "error")
    assert "120d" in issue.message and "90d" in issue.message
    assert (
        codes(check_folder(folder, today=TODAY, retention_ms=180 * DAY_MS), "window-over-retention")
        == []
    )


def test_unused_list_is_a_warning(write_files):
    lists = "lists:\n  noisy_regions: ['330106']\n  unused_things: [x]\n"
    rule = SURGE.replace(
        "match: {type: hotline.ticket}",
        "match: {type: hotline.ticket, region: $list:noisy_regions}",
    )
    folder = write_files("rules", {"_lists/shared.yaml": lists, "a.yaml": rule})
    [issue] = codes(check_folder(folder, today=TODAY), "unused-list")
    assert issue.severity == "warning" and "'unused_things'" in issue.message
    assert (issue.path, issue.line) == (str(folder / "_lists" / "shared.yaml"), 3)


def test_unused_macro_is_reported_and_use_through_another_macro_counts(write_files):
    shared = (
        "macros:\n"
        "  office_hours: 'hour(ts_ms) >= 8 and hour(ts_ms) < 18'\n"
        "  after_hours: 'not office_hours'\n"
        "  weekend_only: 'weekday(ts_ms) >= 5'\n"
    )
    rule = SURGE.replace("window: 1h", "where: after_hours\nwindow: 1h")
    folder = write_files("rules", {"shared.yaml": shared, "a.yaml": rule})
    [issue] = codes(check_folder(folder, today=TODAY), "unused-macro")
    assert (issue.path, issue.line, issue.severity) == (str(folder / "shared.yaml"), 4, "info")
    assert "'weekend_only'" in issue.message


def test_spike_without_floors_warns_per_missing_floor(write_files):
    spike = (
        "id: sp\ntitle: t\nstatus: experimental\ntype: spike\nmatch: {type: a.b}\n"
        "group_by: [region]\nwindow: 1d\nreference: {previous: 1}\ncondition: {ratio_gte: 3}\n"
    )
    floored = spike.replace("{ratio_gte: 3}", "{ratio_gte: 3, current_gte: 20, reference_gte: 5}")
    folder = write_files(
        "rules", {"sp.yaml": spike, "ok.yaml": floored.replace("id: sp", "id: ok")}
    )
    issues = codes(check_folder(folder, today=TODAY), "spike-without-floors")
    assert [(i.path.rsplit("/", 1)[-1], i.line, i.severity) for i in issues] == [
        ("sp.yaml", 9, "warning"),
        ("sp.yaml", 9, "warning"),
    ]
    assert {"current" in i.message for i in issues} == {True, False}


def test_absence_without_closing_event_is_an_error(write_files):
    open_ended = OVERDUE.replace("fulfilled_by: {type: app.decided}\n", "")
    folder = write_files(
        "rules", {"a.yaml": open_ended, "b.yaml": OVERDUE.replace("id: overdue", "id: other")}
    )
    [issue] = codes(check_folder(folder, today=TODAY), "absence-without-close")
    assert (issue.path, issue.line, issue.severity) == (str(folder / "a.yaml"), 6, "error")
    assert "fulfilled_by" in issue.message


def test_stable_rule_without_a_test_file_warns_until_one_exists(write_files):
    stable = SURGE.replace("status: experimental", "status: stable")
    folder = write_files("rules", {"surge.yaml": stable})
    [issue] = codes(check_folder(folder, today=TODAY), "stable-without-test")
    assert (issue.line, issue.severity) == (3, "warning") and "tests/surge.yaml" in issue.message
    write_files(
        "rules", {"tests/any-name.yaml": "tests:\n  - expect:\n      - warnings: [{rule: surge}]\n"}
    )
    assert codes(check_folder(folder, today=TODAY), "stable-without-test") == []


def test_stable_is_the_default_status_and_a_test_named_like_the_file_counts(write_files):
    folder = write_files("rules", {"surge.yaml": SURGE.replace("status: experimental\n", "")})
    assert len(codes(check_folder(folder, today=TODAY), "stable-without-test")) == 1
    write_files("rules", {"tests/surge.test.yaml": "rules: ..\n"})
    assert codes(check_folder(folder, today=TODAY), "stable-without-test") == []


def test_expired_exception_depends_on_the_date_given(write_files):
    rule = OVERDUE + (
        "exceptions:\n"
        "  - name: pilot_items\n"
        "    values: [X-1]\n"
        "    reason: pilot programme\n"
        "    approved_by: li.si\n"
        "    expires: 2026-01-31\n"
    )
    folder = write_files("rules", {"a.yaml": rule})
    [issue] = codes(check_folder(folder, today=TODAY), "expired-exception")
    assert (issue.line, issue.severity) == (14, "warning")
    assert "'pilot_items' expired on 2026-01-31" in issue.message
    assert codes(check_folder(folder, today=date(2026, 1, 31)), "expired-exception") == []


def test_lints_can_be_ignored_by_code():
    from rules.tools.lint import LintContext, RuleFile, run_lints

    rule = RuleFile.from_text("a.yaml", OVERDUE.replace("status: experimental", "status: stable"))
    ctx = LintContext([rule, rule], today=TODAY, retention_ms=DAY_MS // 2)
    found = {i.code for i in run_lints(ctx)}
    assert found == {"duplicate-id", "window-over-retention", "stable-without-test"}
    assert {i.code for i in run_lints(ctx, ignore=["duplicate-id"])} == found - {"duplicate-id"}
    assert set(found) <= set(LINTS)


def test_json_report_lists_errors_and_issues(write_files):
    folder = write_files("rules", {"a.yaml": SURGE, "b.yaml": SURGE, "c.yaml": "id: [\n"})
    doc = json.loads(format_json(check_folder(folder, today=TODAY)))
    assert doc["ok"] is False
    assert [e["path"].rsplit("/", 1)[-1] for e in doc["errors"]] == ["c.yaml"]
    assert doc["issues"][0]["code"] == "duplicate-id" and doc["issues"][0]["line"] == 1


def test_cli_check_exit_codes(cli, write_files, capsys, tmp_path):
    assert cli(["rules", "check", str(LIBRARY), "--today", "2026-03-02"]) == 0
    assert "0 errors, 0 warnings" in capsys.readouterr().out
    folder = write_files("bad", {"a.yaml": SURGE.replace("window: 1h", "window: soon")})
    assert cli(["rules", "check", str(folder)]) == 1
    assert f"{folder / 'a.yaml'}:8:1: " in capsys.readouterr().out
    untested = write_files(
        "warn", {"a.yaml": SURGE.replace("status: experimental", "status: stable")}
    )
    assert cli(["rules", "check", str(untested)]) == 0
    assert capsys.readouterr().out.rstrip().endswith(": ok")
    assert cli(["rules", "check", str(untested), "--fail-on", "warning"]) == 1
    assert capsys.readouterr().out.rstrip().endswith(": FAILED")  # says what the exit code says
    assert cli(["rules", "check", str(untested), "--fail-on", "warning", "--format", "json"]) == 1
    assert json.loads(capsys.readouterr().out)["ok"] is False
    assert cli(["rules", "check", str(tmp_path / "nowhere")]) == 2
    assert "not found" in capsys.readouterr().err


def test_the_retention_setting_is_what_rules_check_lints_against(write_files, monkeypatch, capsys):
    from riskloop.cli import main

    folder = write_files("rules", {"a.yaml": SURGE.replace("window: 1h", "window: 120d")})
    monkeypatch.setenv("RISKLOOP_STATE_RETENTION_DAYS", "90")
    main(["rules", "check", str(folder)])
    assert "window-over-retention" in capsys.readouterr().out
    monkeypatch.setenv("RISKLOOP_STATE_RETENTION_DAYS", "180")
    main(["rules", "check", str(folder)])
    assert "window-over-retention" not in capsys.readouterr().out


def test_retention_counts_what_a_rule_keeps_not_values_it_compares(write_files):
    compared = (
        "id: m1\ntitle: t\ntype: match\nmatch: {type: a.b, attrs.term: 999d}\ngroup_by: [region]\n"
    )
    workdays = (
        "id: a2\ntitle: t\ntype: absence\ngroup_by: [attrs.k]\nanchor: {type: a.b}\n"
        "fulfilled_by: {type: a.c}\ndeadline: {workdays: 400}\n"
    )
    folder = write_files("rules", {"a.yaml": compared, "b.yaml": workdays})
    [issue] = codes(check_folder(folder, today=TODAY), "window-over-retention")
    assert issue.path.endswith("b.yaml") and "'workdays' of 560d" in issue.message


FLATLINE_RULE = (
    "id: th\ntitle: t\ntype: threshold\nmatch: {type: a.b}\ngroup_by: [attrs.k]\n"
    "window: 30s\naggregate: count\ncondition: {lt: 2}\n"
)


def test_fewer_than_rules_are_told_when_they_start_judging(write_files):
    folder = write_files(
        "rules",
        {
            "flat.yaml": FLATLINE_RULE.replace("title: t", "title: t\nstatus: experimental"),
            "many.yaml": FLATLINE_RULE.replace("id: th", "id: many")
            .replace("{lt: 2}", "{gte: 3}")
            .replace("title: t", "title: t\nstatus: experimental"),
        },
    )
    report = check_folder(folder, today=TODAY)
    [issue] = [i for i in report.issues if i.code == "fewer-than"]
    assert (issue.path.rsplit("/", 1)[-1], issue.line, issue.severity) == ("flat.yaml", 9, "info")
    assert "watched for a whole window (30s)" in issue.message
    assert "to zero too" in issue.message
