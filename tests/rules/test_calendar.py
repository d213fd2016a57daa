"""Working days in China: statutory holidays and make-up workdays, with literal dates."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from envelope.calendar import add_working_days, covers, is_workday, local_date, working_days_between

CST = timezone(timedelta(hours=8))


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=CST).timestamp() * 1000)


def day(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, CST).strftime("%Y-%m-%d %H:%M")


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        # Spring Festival 2026: 15-23 Feb off; Sat 14 Feb and Sat 28 Feb are make-up workdays
        ("2026-02-13 09:00", 1, "2026-02-14 09:00"),
        ("2026-02-13 09:00", 2, "2026-02-24 09:00"),
        ("2026-02-14 17:30", 1, "2026-02-24 17:30"),
        ("2026-02-26 10:00", 2, "2026-02-28 10:00"),
        # National Day 2025: 1-8 Oct off; Sun 28 Sep and Sat 11 Oct are make-up workdays
        ("2025-09-26 09:00", 1, "2025-09-28 09:00"),
        ("2025-09-30 09:00", 1, "2025-10-09 09:00"),
        ("2025-09-30 09:00", 3, "2025-10-11 09:00"),
        # an ordinary week: Friday + 1 is Monday
        ("2026-03-06 16:00", 1, "2026-03-09 16:00"),
        ("2026-03-06 16:00", 0, "2026-03-06 16:00"),
    ],
)
def test_add_working_days(start: str, n: int, expected: str) -> None:
    assert day(add_working_days(ms(start), n)) == expected


def test_make_up_days_are_workdays_and_holidays_are_not() -> None:
    assert is_workday(ms("2026-02-14 12:00")) and is_workday(ms("2025-09-28 12:00"))
    assert not is_workday(ms("2026-02-17 12:00")) and not is_workday(ms("2025-10-08 12:00"))
    assert not is_workday(ms("2026-03-07 12:00"))  # an ordinary Saturday


def test_local_date_uses_china_time_not_utc() -> None:
    assert str(local_date(ms("2026-03-02 00:30"))) == "2026-03-02"  # 16:30 UTC the day before


def test_working_days_between_counts_days_after_start_up_to_end() -> None:
    assert working_days_between(ms("2026-02-13 09:00"), ms("2026-02-24 09:00")) == 2
    assert working_days_between(ms("2026-03-02 09:00"), ms("2026-03-02 18:00")) == 0


def test_years_outside_the_data_fall_back_to_weekdays() -> None:
    assert not covers(local_date(ms("2199-01-04 09:00")))
    assert day(add_working_days(ms("2199-01-04 09:00"), 1)) == "2199-01-07 09:00"  # Fri -> Mon


def test_negative_days_are_refused() -> None:
    with pytest.raises(ValueError, match="n must be >= 0"):
        add_working_days(ms("2026-03-02 09:00"), -1)
