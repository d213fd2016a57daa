"""``rules backtest``: counts, the diff of two rule folders, labels and dispositions."""

from __future__ import annotations

import json

import pytest
from event_factories import make_event
from rules_tools_fixtures import SURGE

from envelope.events import Disposition
from rules.tools.backtest import Window, format_text, run_backtest, to_json

T0 = 1_772_413_200_000  # 2026-03-02T09:00:00+08:00
DAY = 86_400_000
REPEAT = """\
id: repeat
title: Repeated submissions
status: experimental
severity: medium
type: threshold
match: {type: application.submitted}
group_by: [attrs.applicant]
window: 1h
condition: {gte: 2}
"""
BIG = """\
id: big-read
title: Big read
status: experimental
severity: critical
type: threshold
match: {type: data.access, attrs.rows|gte: 100}
group_by: [attrs.account]
window: 1h
condition: {gte: 1}
"""


def events() -> list:
    """Day 1: a surge in 330106, cit-1 submits twice, stf-1 reads 150 rows.
    Day 2: a surge in 330102."""
    out = [make_event(ts_ms=T0 + i * 60_000, type="hotline.ticket", id=f"t{i}") for i in range(3)]
    out += [
        make_event(
            ts_ms=T0 + 600_000 + i, type="application.submitted", id=f"s{i}", applicant="cit-1"
        )
        for i in range(2)
    ]
    out.append(
        make_event(ts_ms=T0 + 900_000, type="data.access", id="d1", account="stf-1", rows=150)
    )
    out += [
        make_event(ts_ms=T0 + DAY + i * 60_000, type="hotline.ticket", id=f"u{i}", region="330102")
        for i in range(3)
    ]
    return out


@pytest.fixture
def setup(write_files, tmp_path):
    baseline = write_files("baseline", {"surge.yaml": SURGE, "repeat.yaml": REPEAT})
    candidate = write_files(
        "candidate",
        {
            "surge.yaml": SURGE.replace("severity:", "tags: [scenario:surge]\nseverity:"),
            "repeat.yaml": REPEAT.replace("{gte: 2}", "{gte: 3}"),
            "big.yaml": BIG,
        },
    )
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(ev.to_json() for ev in events()) + b"\n")
    return path, candidate, baseline


def backtest(path, rules, **kw):
    return run_backtest(path, rules, partitions=1, lateness_ms=0, **kw)


def test_counts_per_day_severity_rule_and_key(setup):
    path, candidate, _ = setup
    bt = backtest(path, candidate)
    assert bt.report.events == 9 and len(bt.warnings) == 3
    c = bt.counts
    assert dict(c["day"]) == {"2026-03-02": 2, "2026-03-03": 1}
    assert dict(c["severity"]) == {"high": 2, "critical": 1}
    assert dict(c["rule"]) == {"surge": 2, "big-read": 1}
    assert dict(c["key"]) == {"surge 330106": 1, "big-read stf-1": 1, "surge 330102": 1}
    text = format_text(bt)
    assert "per day (+08:00):\n  2026-03-02        2\n  2026-03-03        1" in text
    assert "suppressed repeats: none carried by these warnings" in text


def test_every_repeat_held_back_by_suppression_is_counted(write_files, tmp_path):
    """Five bursts of two big reads, three hours apart, under a 1-day suppression: one
    warning, and the four repeats held back are reported though no warning carries them."""
    rule = BIG.replace("{gte: 1}", "{gte: 2}") + "suppress: {for: 1d}\n"
    rules = write_files("suppressing", {"big.yaml": rule})
    path = tmp_path / "reads.jsonl"
    reads = [
        make_event(
            ts_ms=T0 + burst * 10_800_000 + i * 60_000,
            type="data.access",
            id=f"r{burst}-{i}",
            account="stf-1",
            rows=500,
        )
        for burst in range(5)
        for i in range(2)
    ]
    path.write_bytes(b"\n".join(ev.to_json() for ev in reads) + b"\n")
    bt = backtest(path, rules)
    assert len(bt.warnings) == 1
    text = format_text(bt)
    assert (
        "held back by suppression over the whole file (warm-up included):\n  big-read        4"
        in text
    )
    assert json.loads(to_json(bt))["suppressed_whole_file"] == {"big-read": 4}


def test_diff_new_lost_unchanged_between_two_folders(setup):
    path, candidate, baseline = setup
    bt = backtest(path, candidate, against=baseline)
    d = bt.diff
    assert d is not None
    assert [(w.rule_id, w.key) for w in d.new] == [("big-read", "stf-1")]
    assert [(w.rule_id, w.key) for w in d.lost] == [("repeat", "cit-1")]
    assert sorted((a.rule_id, a.key) for a, _ in d.unchanged) == [
        ("surge", "330102"),
        ("surge", "330106"),
    ]
    text = format_text(bt)
    assert "1 new, 1 lost, 2 unchanged" in text
    assert "  new   big-read|stf-1|fired|2026-03-02T09:15:00+08:00  critical" in text
    assert "  lost  repeat|cit-1|fired|" in text


def test_from_to_reports_only_warnings_inside_the_days(setup):
    path, candidate, baseline = setup
    bt = backtest(path, candidate, window=Window("2026-03-03", "2026-03-03"), against=baseline)
    assert [(w.rule_id, w.key) for w in bt.warnings] == [("surge", "330102")]
    assert bt.diff is not None and (len(bt.diff.new), len(bt.diff.lost)) == (0, 0)
    early = backtest(path, candidate, window=Window(None, "2026-03-02"))
    assert {w.key for w in early.warnings} == {"330106", "stf-1"}


def test_precision_and_recall_against_labels(setup, tmp_path):
    path, candidate, _ = setup
    labels = tmp_path / "labels.jsonl"
    rows = [
        {
            "scenario": "surge",
            "key": "330106",
            "start": "2026-03-02T09:00:00+08:00",
            "end": "2026-03-02T09:02:00+08:00",
        },
        {
            "scenario": "surge",
            "key": "330999",
            "start": "2026-03-02T09:00:00+08:00",
            "end": "2026-03-02T10:00:00+08:00",
        },
    ]
    labels.write_text("\n".join(json.dumps(r) for r in rows))
    bt = backtest(path, candidate, labels=labels)
    s = bt.labels["surge"]
    assert (s.labels, s.detected, s.warnings, s.matched) == (2, 1, 2, 1)
    assert "scores against labels:" in format_text(bt)


def test_precision_against_exported_dispositions(setup, tmp_path):
    path, candidate, _ = setup
    warnings = {w.rule_id: w for w in backtest(path, candidate).warnings}
    at = T0 + DAY
    verdicts = [
        Disposition("d1", "c1", "surge", "330106", "confirmed", "substantiated", "insp", at),
        Disposition(
            "d2",
            "c2",
            "big-read",
            "other",
            "dismissed",
            "fp_logic",
            "insp",
            at,
            warning_ids=(warnings["big-read"].id,),
        ),
        Disposition("d3", "c3", "surge", "330555", "confirmed", "substantiated", "insp", at),
    ]
    exported = tmp_path / "dispositions.jsonl"
    exported.write_bytes(b"\n".join(d.to_json() for d in verdicts))
    bt = backtest(path, candidate, dispositions=exported)
    surge, big = bt.verdicts["surge"], bt.verdicts["big-read"]
    assert (surge.warnings, surge.confirmed, surge.dismissed, surge.precision) == (2, 1, 0, 1.0)
    assert (surge.clues, surge.found, surge.recall) == (2, 1, 0.5)
    assert (big.confirmed, big.dismissed, big.precision) == (0, 1, 0.0)
    doc = json.loads(to_json(bt))
    assert doc["dispositions"]["surge"]["precision"] == 1.0


def test_cli_backtest_exit_codes(cli, setup, tmp_path, capsys, write_files):
    path, candidate, baseline = setup
    argv = ["rules", "backtest", str(path), "--rules", str(candidate), "--against", str(baseline)]
    assert cli([*argv, "--partitions", "1"]) == 0
    assert "1 new, 1 lost, 2 unchanged" in capsys.readouterr().out
    assert cli([*argv, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["diff"]["unchanged"] == 2
    broken = write_files("broken", {"a.yaml": SURGE.replace("window: 1h", "window: x")})
    assert cli(["rules", "backtest", str(path), "--rules", str(broken)]) == 2
    assert f"{broken / 'a.yaml'}:8:1:" in capsys.readouterr().err
    assert cli(["rules", "backtest", str(tmp_path / "none.jsonl"), "--rules", str(candidate)]) == 2


def test_an_exported_topic_with_transitions_reads_only_the_dispositions(tmp_path):
    from envelope.events import ClueTransition, Disposition
    from rules.tools.verdicts import read_dispositions

    d = Disposition("d-1", "clue-1", "r1", "k", "confirmed", "confirmed_violation", "alice", 5)
    t = ClueTransition(
        id="clue-1@v2",
        clue_id="clue-1",
        rule_id="r1",
        action="claim",
        from_status="dispatched",
        to_status="claimed",
        actor="alice",
        role="inspector",
        ts_ms=4,
        reason="",
        version=2,
        before={},
        after={},
    )
    path = tmp_path / "export.jsonl"
    path.write_bytes(t.to_json() + b"\n" + d.to_json() + b"\n")
    assert read_dispositions(path) == [d]


def test_bad_or_reversed_dates_are_refused_before_the_file_is_read(cli, setup, tmp_path, capsys):
    _, candidate, _ = setup
    missing = str(tmp_path / "not-there.jsonl")  # reading it would fail differently
    assert cli(["rules", "backtest", missing, "--rules", str(candidate), "--from", "03/02"]) == 2
    assert "'03/02' is not a date: write a day like 2026-03-02" in capsys.readouterr().err
    argv = ["rules", "backtest", missing, "--rules", str(candidate)]
    assert cli([*argv, "--from", "2026-03-05", "--to", "2026-03-01"]) == 2
    assert "--from 2026-03-05 is after --to 2026-03-01" in capsys.readouterr().err


def test_from_to_score_only_the_verdicts_about_warnings_of_those_days(setup, tmp_path):
    """A clue confirmed on day one (listed by warning id), one dismissed on day two (by rule
    and key), one confirmed that no rule here raised, decided days later: a day's score
    counts only that day's clues, so recall is not dragged down by other days."""
    path, candidate, _ = setup
    day_one = {w.key: w for w in backtest(path, candidate).warnings}["330106"]
    verdicts = [
        Disposition(
            "d1",
            "c1",
            "surge",
            "330106",
            "confirmed",
            "substantiated",
            "insp",
            T0 + 2 * DAY,
            warning_ids=(day_one.id,),
        ),
        Disposition("d2", "c2", "surge", "330102", "dismissed", "fp", "insp", T0 + 2 * DAY),
        Disposition("d3", "c3", "surge", "330555", "confirmed", "subst", "insp", T0 + 9 * DAY),
    ]
    exported = tmp_path / "dispositions.jsonl"
    exported.write_bytes(b"\n".join(d.to_json() for d in verdicts))

    whole = backtest(path, candidate, dispositions=exported).verdicts["surge"]
    assert (whole.confirmed, whole.dismissed, whole.clues, whole.found) == (1, 1, 2, 1)
    first = backtest(
        path, candidate, window=Window("2026-03-02", "2026-03-02"), dispositions=exported
    )
    s = first.verdicts["surge"]
    assert (s.warnings, s.confirmed, s.dismissed, s.clues, s.recall) == (1, 1, 0, 1, 1.0)
    second = backtest(
        path, candidate, window=Window("2026-03-03", "2026-03-03"), dispositions=exported
    )
    s = second.verdicts["surge"]
    assert (s.warnings, s.confirmed, s.dismissed, s.clues, s.precision) == (1, 0, 1, 0, 0.0)
    assert s.recall is None  # no confirmed clue of that day: nothing to recall
    late = backtest(path, candidate, window=Window("2026-03-10", None), dispositions=exported)
    assert (late.verdicts["surge"].clues, late.verdicts["surge"].found) == (1, 0)


def test_from_counts_a_label_that_ended_just_before_it_within_the_grace(setup, tmp_path):
    """The 330102 surge warning (09:02) matches a label that ended at 05:00 the same day, so
    a window opening at 06:00 keeps that label: its warning is a hit, not a false alarm."""
    path, candidate, _ = setup
    labels = tmp_path / "labels.jsonl"
    row = {"scenario": "surge", "key": "330102", "start": "2026-03-03T04:00:00+08:00"}
    labels.write_text(json.dumps({**row, "end": "2026-03-03T05:00:00+08:00"}))
    bt = backtest(path, candidate, window=Window("2026-03-03T06:00+08:00", None), labels=labels)
    s = bt.labels["surge"]
    assert (s.labels, s.detected, s.warnings, s.matched) == (1, 1, 1, 1)
