"""``rules explain``: which condition failed, whether the key resolved, the state per key."""

from __future__ import annotations

from event_factories import make_event
from rules_tools_fixtures import LIBRARY, OVERDUE, SURGE

from rules import load_rules
from rules.language.model import parse_rule
from rules.tools.explain import explain, format_explanation

T0 = 1_772_413_200_000  # 2026-03-02T09:00:00+08:00
BIG = """\
id: big-read
title: Big read
type: threshold
match: {type: data.access, attrs.rows|gte: 100, attrs.dataset|in: [medical, tax]}
group_by: [attrs.account]
window: 1h
condition: {gte: 1}
"""


def test_failing_condition_is_shown_with_actual_and_expected():
    rule = parse_rule(BIG, "big.yaml")
    ev = make_event(ts_ms=T0, type="data.access", id="e1", account="stf-1", rows=40, dataset="tax")
    text = format_explanation(explain(rule, ev))
    assert "selection 'match': does NOT match" in text
    assert "pass  type eq 'data.access'" in text
    lines = text.splitlines()
    [rows] = [line for line in lines if "attrs.rows|gte" in line]
    assert rows.strip().startswith("FAIL") and "100.0" in rows and rows.endswith("actual 40")
    [dataset] = [line for line in lines if "attrs.dataset|in" in line]
    assert dataset.strip().startswith("pass") and "['medical', 'tax']" in dataset
    assert "warnings raised by this event: none" in text


def test_missing_field_and_unresolved_key_are_named():
    rule = parse_rule(BIG, "big.yaml")
    ev = make_event(ts_ms=T0, type="data.access", id="e1", rows=400, dataset="tax")
    ex = explain(rule, ev)
    assert ex.key is None and ex.selections[0].passed
    text = format_explanation(ex)
    assert "group key: NOT resolved: the event has no value at attrs.account" in text
    assert "attrs.account = missing" in text


def test_state_for_the_key_after_a_history_and_the_warning_raised():
    rule = parse_rule(SURGE, "surge.yaml")
    history = [
        make_event(ts_ms=T0 + i * 60_000, type="hotline.ticket", id=f"h{i}") for i in range(2)
    ]
    other = make_event(ts_ms=T0 + 90_000, type="hotline.ticket", id="o1", region="330102")
    ev = make_event(ts_ms=T0 + 300_000, type="hotline.ticket", id="e3")
    ex = explain(rule, ev, [*history, other])
    assert ex.key == "330106" and ex.history_events == 3
    text = format_explanation(ex)
    assert "after 3 history event(s), watermark 2026-03-02T09:01:30+08:00" in text
    before, after = "\n".join(ex.before), "\n".join(ex.after)
    assert "events: 2" in before and "episode_open: False" in before
    assert "verdict: 'not met: 2.0 is not gte 3.0'" in before
    assert "events: 3" in after and "episode_open: True" in after
    assert "verdict: 'met'" in after
    assert [w.key for w in ex.warnings] == ["330106"]
    assert "warnings raised by this event: 1" in text and "surge key=330106 stage=fired" in text
    assert "rule counters moved by this event: emitted +1" in text


def test_absence_rule_shows_each_selection_and_the_open_obligation():
    rule = parse_rule(OVERDUE, "overdue.yaml")
    accepted = make_event(ts_ms=T0, type="app.accepted", id="a1", app="A-1")
    ev = make_event(ts_ms=T0 + 3_600_000, type="app.accepted", id="a2", app="A-1")
    text = format_explanation(explain(rule, ev, [accepted]))
    assert "selection 'anchor': matches" in text
    assert "selection 'fulfilled_by': does NOT match" in text
    assert "deadline_ms: 2026-03-03T09:00:00+08:00" in text


def test_cli_explain_by_rule_id_and_by_file(cli, write_files, tmp_path, capsys):
    folder = write_files("rules", {"surge.yaml": SURGE})
    event = tmp_path / "event.json"
    event.write_bytes(make_event(ts_ms=T0, type="hotline.ticket", id="e1", region="").to_json())
    assert cli(["rules", "explain", "surge", str(event), "--rules", str(folder)]) == 0
    assert "group key: NOT resolved" in capsys.readouterr().out
    history = tmp_path / "history.jsonl"
    history.write_bytes(
        b"\n".join(
            make_event(ts_ms=T0 + i, type="hotline.ticket", id=f"h{i}", region="").to_json()
            for i in range(2)
        )
    )
    assert (
        cli(["rules", "explain", str(folder / "surge.yaml"), str(event), "--history", str(history)])
        == 0
    )
    assert "after 2 history event(s)" in capsys.readouterr().out
    assert cli(["rules", "explain", "no-such-rule", str(event), "--rules", str(folder)]) == 2
    assert "no rule with id 'no-such-rule'" in capsys.readouterr().err
    event.write_text('{"id": "x"}')
    assert cli(["rules", "explain", "surge", str(event), "--rules", str(folder)]) == 2
    assert "missing field 'type'" in capsys.readouterr().err


def test_library_rules_explain_without_errors():
    ruleset = load_rules(LIBRARY)
    ev = make_event(
        ts_ms=T0, type="application.decided", id="e1", application_id="A-1", official="o1"
    )
    for rule in ruleset.rules:
        text = format_explanation(explain(rule, ev))
        assert text.startswith(f"rule {rule.id} ({rule.type}")


def test_where_parts_and_an_applying_exception_are_shown(write_files):
    rule_text = BIG.replace(
        "window: 1h", "window: 1h\nwhere: attrs.rows > 500 and region == '330106'"
    ) + (
        "exceptions:\n"
        "  - name: audit_team\n"
        "    match: {attrs.account: stf-audit}\n"
        "    reason: the audit team reads in bulk by mandate\n"
        "    approved_by: li.si\n"
        "    expires: 2026-12-31\n"
    )
    rule = parse_rule(rule_text, "big.yaml")
    ev = make_event(
        ts_ms=T0, type="data.access", id="e1", account="stf-audit", rows=900, dataset="tax"
    )
    ex = explain(rule, ev)
    text = format_explanation(ex)
    assert "where \"attrs.rows > 500 and region == '330106'\": matches" in text
    assert "pass  attrs.rows > 500 is true" in text
    assert (
        "exception 'audit_team' (until 2026-12-31).match': matches: the rule ignores this event"
        in text
    )
    assert ex.warnings == [] and ex.counters == {"excepted": 1}
    assert "rule counters moved by this event: excepted +1" in text
    other = make_event(
        ts_ms=T0, type="data.access", id="e2", account="stf-1", rows=900, dataset="tax"
    )
    assert [w.key for w in explain(rule, other).warnings] == ["stf-1"]


def test_a_spike_rule_says_why_it_does_not_fire_yet():
    rule = next(r for r in load_rules(LIBRARY).rules if r.id == "hotline-surge-seasonal")
    history = [
        make_event(ts_ms=T0 + i * 60_000, type="hotline.ticket", id=f"h{i}", category="noise")
        for i in range(5)
    ]
    ev = make_event(ts_ms=T0 + 600_000, type="hotline.ticket", id="e", category="noise")
    after = "\n".join(explain(rule, ev, history).after)
    assert (
        "current: 6" in after and "verdict: 'not met: the reference is still warming up'" in after
    )
