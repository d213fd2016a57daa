"""The simulator's background variants: a city-wide festival rise of the hotline and a nightly
batch account, never labelled, drawn after the rest so everything else is unchanged."""

from __future__ import annotations

from collections import Counter

import pytest

from envelope.events import Event
from replay.sim_variants import BATCH_ACCOUNT
from replay.simulator import generate

DAY_MS = 86_400_000


@pytest.fixture(scope="module")
def both() -> tuple[list[dict], list[dict], list[dict], list[dict]]:
    plain = generate(seed=9, days=7, scale=0.5)
    varied = generate(seed=9, days=7, scale=0.5, variants=("festival", "batch_account"))
    return *plain, *varied


def test_the_variants_add_events_and_no_label_and_leave_the_rest_as_it_was(both) -> None:
    plain, plain_labels, varied, varied_labels = both
    assert varied_labels == plain_labels
    ids = {e["id"] for e in varied}
    assert all(e["id"] in ids for e in plain)
    assert len(varied) > len(plain) + 1000


def test_the_festival_lifts_every_district_and_category_on_one_rest_day(both) -> None:
    plain, _, varied, _ = both
    added = {e["id"] for e in varied} - {e["id"] for e in plain}
    festival = [Event.from_dict(e) for e in varied if e["id"] in added]
    tickets = [e for e in festival if e.type == "hotline.ticket"]
    days = {e.ts[:10] for e in tickets}
    assert days in ({"2026-03-07"}, {"2026-03-08"})  # the week's weekend
    assert all("10:00" <= e.ts[11:16] < "22:00" for e in tickets)
    keys = Counter((e.region, e.attrs["category"]) for e in tickets)
    assert len(keys) == 8 * 7  # every district, every category
    day = days.pop()
    usual = sum(1 for e in plain if e["type"] == "hotline.ticket" and e["ts"][:10] == day)
    assert len(tickets) > usual  # the day's load more than doubles


def test_the_batch_account_reads_150_to_300_citizens_every_night(both) -> None:
    _, _, varied, _ = both
    nights: dict[str, set[str]] = {}
    for e in varied:
        if e["attrs"].get("account") == BATCH_ACCOUNT:
            assert "01:00" <= e["ts"][11:16] < "04:00"
            nights.setdefault(e["ts"][:10], set()).add(e["attrs"]["citizen"])
    assert len(nights) == 7 and all(150 <= len(c) <= 300 for c in nights.values())


def test_an_unknown_variant_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="unknown simulator variant.*'carnival'.*festival"):
        generate(seed=9, days=1, variants=("carnival",))
