"""Every error bad input causes derives from UserError, prints as ``file:line[:col]: message``
exactly as before, and is still the ValueError / RuntimeError older callers catch."""

from __future__ import annotations

import pytest

from clues.access import BadTokenSpec
from clues.model import BadDisposition, ClueError, ClueNotFound
from clues.policy_file import PolicyFileError
from detectors.features import UnknownFeature
from detectors.registry import InvalidParams, UnknownDetector
from envelope.calendar_file import CalendarFileError
from envelope.errors import UserError
from envelope.events import InvalidEvent
from envelope.settings import SettingsError
from replay.backtest import LabelsError
from replay.export import ExportError
from replay.formats import FormatError
from replay.publish import PublishError
from riskloop.demo import DemoError
from riskloop.services import ServiceError
from rules.language.errors import RuleError, RuleSetError
from rules.tools.testfile import TestFileError
from streams.ruleset_topic import RuleSetRecordError


def test_user_error_says_file_line_and_message() -> None:
    assert str(UserError("no such key", "a.yaml", 4)) == "a.yaml:4: no such key"
    assert str(UserError("no such key", "a.yaml")) == "a.yaml: no such key"
    assert str(UserError("no such key")) == "no such key"
    e = UserError("no such key", "a.yaml", 4)
    assert (e.file, e.line, e.message) == ("a.yaml", 4, "no such key")


def test_the_located_errors_keep_their_formats_byte_for_byte() -> None:
    rule = RuleError("rules/x.yaml", 3, 5, "window must be a duration like '10m'")
    assert str(rule) == "rules/x.yaml:3:5: window must be a duration like '10m'"
    assert (rule.file, rule.path, rule.line, rule.col) == ("rules/x.yaml", "rules/x.yaml", 3, 5)
    assert rule.message == "window must be a duration like '10m'"
    test_file = TestFileError("t.yaml", 2, 1, "unknown key 'expcet'")
    assert str(test_file) == "t.yaml:2:1: unknown key 'expcet'"
    two = RuleSetError([rule, RuleError("rules/y.yaml", 1, 1, "not YAML")])
    assert str(two) == f"{rule}\nrules/y.yaml:1:1: not YAML"
    assert [e.line for e in two.errors] == [3, 1]
    calendar = CalendarFileError("calendar.yaml", 3, "'8 January' is not a date")
    assert str(calendar) == "calendar.yaml:3: '8 January' is not a date"
    assert (calendar.path, calendar.line) == ("calendar.yaml", 3)
    policy = PolicyFileError("p.yaml", 1, "dispose_days must be a whole number >= 0, got -1")
    assert str(policy) == "p.yaml:1: dispose_days must be a whole number >= 0, got -1"
    assert policy.message == "dispose_days must be a whole number >= 0, got -1"
    labels = LabelsError("labels.jsonl:2: not a JSON label")
    assert str(labels) == "labels.jsonl:2: not a JSON label"
    assert str(ClueNotFound("c-1")) == "no clue with id 'c-1'"


@pytest.mark.parametrize(
    ("error", "old_base"),
    [
        (RuleError("r.yaml", 1, 1, "x"), ValueError),
        (RuleSetError([]), ValueError),
        (TestFileError("t.yaml", 1, 1, "x"), ValueError),
        (SettingsError("RISKLOOP_X='y': z"), ValueError),
        (CalendarFileError("c.yaml", 1, "x"), ValueError),
        (PolicyFileError("p.yaml", 1, "x"), ValueError),
        (LabelsError("x"), ValueError),
        (FormatError("x"), ValueError),
        (InvalidEvent("x"), ValueError),
        (BadTokenSpec("x"), ValueError),
        (RuleSetRecordError("x"), ValueError),
        (UnknownDetector("x"), ValueError),
        (InvalidParams("x"), ValueError),
        (UnknownFeature("x"), ValueError),
        (BadDisposition("x"), ValueError),
        (ClueNotFound("c-1"), ClueError),
        (PublishError("x"), RuntimeError),
        (ExportError("x"), RuntimeError),
        (ServiceError("x"), RuntimeError),
        (DemoError("x"), RuntimeError),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else v.__name__,
)
def test_each_is_a_user_error_and_still_what_it_was(error: Exception, old_base: type) -> None:
    assert isinstance(error, UserError)
    assert isinstance(error, old_base)


def test_the_module_examples_hold() -> None:
    import doctest

    import envelope.errors

    result = doctest.testmod(envelope.errors)
    assert result.attempted > 0 and result.failed == 0
