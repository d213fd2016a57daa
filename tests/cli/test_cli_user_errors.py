"""`riskloop` prints a user error (a bad rules folder, a bad labels file, a bad setting) as
one message with its file and line and exits 2, through one handler for every UserError."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from riskloop.cli import main


@pytest.fixture(autouse=True)
def _no_settings_from_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("RISKLOOP_"):
            monkeypatch.delenv(name)


def _events(tmp_path: Path) -> Path:
    path = tmp_path / "events.jsonl"
    path.write_text("")
    return path


def test_a_bad_rules_folder_stops_backtest_with_file_line_and_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "broken.yaml").write_text("id: broken\nwhen: [\n")

    code = main(["backtest", str(_events(tmp_path)), "--rules", str(rules)])

    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"riskloop backtest: {rules / 'broken.yaml'}:3:1: YAML syntax error")
    assert "Traceback" not in err


def test_a_bad_labels_file_stops_backtest_with_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labels = tmp_path / "labels.jsonl"
    labels.write_text('{"scenario": "s"\n')

    code = main(["backtest", str(_events(tmp_path)), "--labels", str(labels)])

    assert code == 2
    assert capsys.readouterr().err.startswith(f"riskloop backtest: {labels}:1: not a JSON label")


def test_a_bad_setting_stops_any_command_naming_variable_and_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RISKLOOP_LATENESS_MS", "five minutes")

    code = main(["backtest", str(_events(tmp_path))])

    assert code == 2
    assert capsys.readouterr().err == (
        "riskloop: bad setting: RISKLOOP_LATENESS_MS='five minutes': must be a whole number >= 0\n"
    )


def test_an_unsupported_event_file_is_a_message_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "events.txt"
    path.write_text("")

    assert main(["backtest", str(path)]) == 2
    assert capsys.readouterr().err.startswith("riskloop backtest: unsupported file 'events.txt'")


def test_backtest_now_sets_the_wall_clock_events_are_judged_against(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(
        '{"id": "e1", "type": "data.access", "stream": "service", "source": "s", '
        '"ts": "2026-03-02T09:00:00+08:00", "region": "330106", "department": "d", '
        '"entity": {"kind": "staff", "id": "x"}}\n'
    )
    monkeypatch.setenv("RISKLOOP_STATE_RETENTION_DAYS", "30")
    assert main(["backtest", str(path), "--now", "2026-03-20T00:00:00+08:00"]) == 0
    assert "1 events through" in capsys.readouterr().out
    assert main(["backtest", str(path), "--now", "2026-05-01T00:00:00+08:00"]) == 0
    out = capsys.readouterr().out
    assert "0 events through" in out and "1 rows rejected" in out
    assert "row 1: too old: 2026-03-02T09:00:00+08:00 is more than 30d before" in out
    with pytest.raises(SystemExit):
        main(["backtest", str(path), "--now", "tomorrow"])
    assert "--now: bad time 'tomorrow'" in capsys.readouterr().err
