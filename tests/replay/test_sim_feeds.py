"""The simulator's data-sharing feeds: deliveries in office hours on working days only, some
empty batches, and two labelled outages (one silent, one of empty batches only) that the
shipped data-feed-silent rule finds, with no other warning of it."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from envelope.calendar import workday_on
from envelope.settings import DEFAULT_RULES_DIR
from replay.backtest import backtest
from replay.sim_feeds import FEEDS
from replay.simulator import generate, simulate_to_file

pytestmark = pytest.mark.slow  # a simulated week through the whole library
SEED = 31  # not a seed of the other simulator tests


@pytest.fixture(scope="module")
def week() -> tuple[list[dict], list[dict]]:
    return generate(seed=SEED, days=7, scale=0.3, variants=("feeds",))


def test_feeds_deliver_in_office_hours_on_working_days_with_some_empty_batches(week) -> None:
    from datetime import date

    events, _ = week
    batches = [e for e in events if e["type"] == "data.feed_delivered"]
    assert {e["attrs"]["feed"] for e in batches} == {feed for feed, _ in FEEDS}
    assert all("08:00" <= e["ts"][11:16] < "20:00" for e in batches)
    assert all(workday_on(date.fromisoformat(e["ts"][:10])) for e in batches)
    rows = Counter(e["attrs"]["rows"] == 0 for e in batches)
    assert 0 < rows[True] < rows[False] // 10


def test_two_outages_are_labelled_one_silent_one_of_empty_batches(week) -> None:
    _, labels = week
    outages = [lab for lab in labels if lab["scenario"] == "feed_silent"]
    assert len(outages) == 2 and len({lab["key"] for lab in outages}) == 2
    assert sorted(lab["note"].split(" for ")[0] for lab in outages) == [
        "no delivery",
        "only empty batches",
    ]


def test_the_shipped_rule_finds_both_outages_and_nothing_else(tmp_path: Path) -> None:
    path = tmp_path / "week.jsonl"
    simulate_to_file(path, SEED, days=7, scale=0.3, variants=("feeds",))
    report = backtest(path, DEFAULT_RULES_DIR, labels_path=path.with_name("week.labels.jsonl"))
    assert report.scores is not None
    s = report.scores["feed_silent"]
    assert (s.labels, s.detected) == (2, 2), s
    assert s.precision == 1.0, s  # no night, weekend or empty batch taken for an outage
