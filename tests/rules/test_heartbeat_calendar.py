"""A feed that delivers on working days 08:00-20:00 is not silent at night, and a delivery
carrying no rows is not a delivery (the shipped data-feed-silent rule)."""

from __future__ import annotations

from pathlib import Path

import pytest
from rule_factories import DAY, HOUR, MIN, T0, ev, feed
from rule_factories import engine as make_engine

from envelope.time import iso
from rules import RuleSet, load_rules
from rules.engine.engine import Engine
from rules.language.errors import RuleError

LIBRARY = Path(__file__).resolve().parents[2] / "rules" / "library"
FRI_19 = T0 + 4 * DAY + 9 * HOUR + 45 * MIN  # Fri 2026-03-06 19:00+08:00

OFFICE = """
id: feed-silent
title: feed silent
type: absence
group_by: [attrs.feed]
heartbeat:
  match: {type: feed.delivered}
  every: 1h
  grace: 30m
  open: "08:00-20:00"
  workdays_only: true
"""


def office_day(day_ms: int, feed_name: str = "tax") -> list:
    """Hourly deliveries 08:00..19:00 of the local day starting at ``day_ms`` (00:00+08:00)."""
    return [ev(day_ms + h * HOUR, "feed.delivered", feed=feed_name) for h in range(8, 20)]


def test_an_office_hours_feed_is_not_silent_at_night_or_over_the_weekend():
    eng = make_engine(OFFICE)
    monday = T0 - 9 * HOUR - 15 * MIN
    week = [e for d in range(5) for e in office_day(monday + d * DAY)]
    week += [e for e in office_day(monday + 7 * DAY) if e.ts_ms <= monday + 7 * DAY + 12 * HOUR]
    assert feed(eng, week) == []
    # it stops on Monday the 9th after 12:00: silent 90 open minutes later
    out = eng.advance_to(monday + 7 * DAY + 18 * HOUR)
    assert [iso(w.ts_ms) for w in out] == ["2026-03-09T13:30:00+08:00"]


def test_a_friday_evening_delivery_is_due_on_monday_morning():
    eng = make_engine(OFFICE)
    eng.process(ev(FRI_19, "feed.delivered", feed="tax"))
    [w] = eng.advance_to(FRI_19 + 4 * DAY)
    assert iso(w.ts_ms) == "2026-03-09T08:30:00+08:00"


def test_without_open_hours_the_same_feed_is_silent_every_night():
    eng = make_engine(OFFICE.replace('  open: "08:00-20:00"\n  workdays_only: true\n', ""))
    monday = T0 - 9 * HOUR - 15 * MIN
    out = feed(eng, office_day(monday) + office_day(monday + DAY))
    assert [iso(w.ts_ms) for w in out] == ["2026-03-02T20:30:00+08:00"]


@pytest.mark.parametrize("bad", ["8-20", "20:00-08:00", "08:00-25:00"])
def test_open_hours_that_are_not_a_daytime_span_are_refused(bad):
    with pytest.raises(RuleError, match="hours"):
        make_engine(OFFICE.replace("08:00-20:00", bad))


def test_the_shipped_feed_rule_ignores_deliveries_of_zero_rows():
    rule = load_rules(LIBRARY).by_id("data-feed-silent")
    eng = Engine(RuleSet([rule]), lateness_ms=0)
    monday = T0 - 9 * HOUR - 15 * MIN
    real = ev(monday + 9 * HOUR, "data.feed_delivered", feed="tax", rows=40)
    empty = [
        ev(monday + h * HOUR, "data.feed_delivered", feed="tax", rows=0) for h in range(10, 20)
    ]
    out = feed(eng, [real, *empty]) + eng.advance_to(monday + 20 * HOUR)
    assert [(w.key, w.stage, iso(w.ts_ms)) for w in out] == [
        ("tax", "silent", "2026-03-02T10:30:00+08:00")
    ]


def test_the_shipped_feed_rule_is_quiet_over_a_weekend_of_an_office_hours_feed():
    rule = load_rules(LIBRARY).by_id("data-feed-silent")
    eng = Engine(RuleSet([rule]), lateness_ms=0)
    eng.process(ev(FRI_19, "data.feed_delivered", feed="tax", rows=12))
    assert eng.advance_to(FRI_19 + 2 * DAY + 12 * HOUR) == []
