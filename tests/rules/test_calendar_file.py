"""The calendar patch file: a year the holiday package does not cover yet, made explicit."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from envelope import calendar
from envelope.calendar import add_working_days, covers, install_overrides, is_workday
from envelope.calendar_file import CalendarFileError, install, load_calendar, parse_calendar
from envelope.settings import Settings

CST = timezone(timedelta(hours=8))
# 2199: a year no release of the package will cover, so these tests keep their meaning.
PATCH_2199 = """\
# the year's holiday notice
holidays: [2199-01-01, 2199-01-02]   # Tue, Wed
workdays:
  - 2199-01-05                       # Sat, a make-up workday
"""


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=CST).timestamp() * 1000)


def day(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, CST).strftime("%Y-%m-%d")


@pytest.fixture(autouse=True)
def no_patch() -> Iterator[None]:
    install_overrides({})
    yield
    install_overrides({})


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("holidays: [2199-01-01,\n  2199-02-30]\n", 2,
         "'2199-02-30' is not a date: write days as YYYY-MM-DD"),
        ("holidays: [1 Jan 2199]\n", 1, "'1 Jan 2199' is not a date"),
        ("holidays: [2199-01-05]\nworkdays:\n  - 2199-01-05\n", 3,
         "2199-01-05 is both a holiday (line 1) and a make-up workday: keep it in one list"),
        ("holidays: []\nmakeup: [2199-01-05]\n", 2,
         "unknown key 'makeup': use holidays (days off) and workdays (make-up workdays)"),
        ("holidays: 2199-01-01\n", 1, "holidays must be a list of days like [2027-01-01"),
        ("workdays: [2199-01-07]\n", 1, "2199-01-07 is a Monday, already a working day"),
        ("- 2199-01-01\n", 1, "the calendar file must be a mapping"),
        ("holidays: [2199-01-01\n", 2, "not valid YAML"),
    ],
)  # fmt: skip
def test_a_bad_file_names_the_line_and_the_fix(text: str, line: int, message: str) -> None:
    with pytest.raises(CalendarFileError) as info:
        parse_calendar(text, "deploy/calendar.yaml")

    assert str(info.value).startswith(f"deploy/calendar.yaml:{line}: ")
    assert message in str(info.value)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(CalendarFileError, match=r"nope\.yaml:1: cannot read the calendar file"):
        load_calendar(tmp_path / "nope.yaml")


def test_installed_patch_moves_working_days_of_an_uncovered_year(tmp_path: Path) -> None:
    path = tmp_path / "calendar.yaml"
    path.write_text(PATCH_2199)
    guessed = day(add_working_days(ms("2198-12-31 09:00"), 2))  # Mon 31 Dec + 2 working days

    patch = install(Settings(calendar_file=str(path)))

    assert patch.years() == [2199]
    assert guessed == "2199-01-02"  # Monday to Friday before the patch
    assert day(add_working_days(ms("2198-12-31 09:00"), 2)) == "2199-01-04"  # 1-2 Jan off
    assert is_workday(ms("2199-01-05 10:00"))  # the make-up Saturday
    assert covers(date(2199, 7, 1)) and not covers(date(2200, 7, 1))
    assert install(Settings()).path == "" and not covers(date(2199, 7, 1))  # no file: no patch


def test_the_weekday_guess_is_logged_once_per_uncovered_year(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger=calendar.__name__):
        add_working_days(ms("2199-03-02 09:00"), 40)
        add_working_days(ms("2199-06-02 09:00"), 40)
        install_overrides({date(2199, 1, 1): False})
        add_working_days(ms("2199-09-01 09:00"), 10)  # 2199 is patched now: no guess

    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1
    assert "no holiday data for 2199" in warnings[0] and "RISKLOOP_CALENDAR_FILE" in warnings[0]


def test_years_the_package_covers_never_warn(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger=calendar.__name__):
        add_working_days(ms("2026-03-02 09:00"), 30)

    assert caplog.records == []
