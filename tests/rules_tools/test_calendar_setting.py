"""RISKLOOP_CALENDAR_FILE reaches every command: a rule's working-day deadline in a year the
calendar package does not cover follows the patch in `riskloop rules test` (as in the worker
and the backtests, which start through the same CLI), and a bad patch stops the command."""

from __future__ import annotations

from pathlib import Path

import pytest

from envelope import calendar
from riskloop.cli import main

RULE = Path(__file__).resolve().parents[2] / "rules" / "library" / "inspection-not-rectified.yaml"
TEST = f"""\
rule_files: [{RULE}]
defaults: {{region: '330106', department: market-supervision, entity: 'enterprise:E1',
            inspection_id: I-1, inspector: ins-3}}
tests:
  - name: five working days from Thursday 7 January 2027, Friday 8 January off
    start: '2027-01-07T09:00:00+08:00'
    input:
      - {{at: +0m, type: inspection.performed, result: finding}}
    expect:
      - at: '2027-01-14T09:00:00+08:00'
        warnings: [{{rule: inspection-not-rectified, key: I-1, stage: due-soon}}]
      - at: '2027-01-15T09:00:00+08:00'
        warnings: [{{rule: inspection-not-rectified, key: I-1, stage: overdue}}]
"""


@pytest.fixture(autouse=True)
def _no_patch_after():
    yield
    calendar.install_overrides({})


def test_the_calendar_file_moves_a_working_day_deadline(tmp_path, monkeypatch, capsys):
    test = tmp_path / "t.yaml"
    test.write_text(TEST)
    assert main(["rules", "test", str(test)]) == 1  # Monday to Friday: overdue on the 14th
    capsys.readouterr()

    patch = tmp_path / "calendar.yaml"
    patch.write_text("holidays: [2027-01-08]\nworkdays: []\n")
    monkeypatch.setenv("RISKLOOP_CALENDAR_FILE", str(patch))
    assert main(["rules", "test", str(test)]) == 0, capsys.readouterr().out


def test_a_bad_calendar_file_stops_the_command_with_file_and_line(tmp_path, monkeypatch, capsys):
    patch = tmp_path / "calendar.yaml"
    patch.write_text("holidays:\n  - 2027-01-08\n  - 8 January\n")
    monkeypatch.setenv("RISKLOOP_CALENDAR_FILE", str(patch))
    assert main(["rules", "check", str(RULE.parent)]) == 2
    err = capsys.readouterr().err
    assert f"riskloop rules: RISKLOOP_CALENDAR_FILE: {patch}:3: " in err
