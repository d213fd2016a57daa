"""The simulator's cross-district scenarios: each key meets events of districts that a
producer keying by region puts on different partitions, and no district alone holds the case."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import pytest

from envelope.events import Event, parse_ts_ms
from envelope.partitioning import partition_for
from replay.sim_cross import PRODUCER_PARTITIONS
from replay.simulator import generate

DAY_MS = 86_400_000
CROSS = (
    "cross_district_resubmissions",
    "shared_bank_account",
    "dereg_after_finding",
    "shared_address",
)


@pytest.fixture(scope="module")
def week() -> tuple[list[Event], list[dict[str, Any]]]:
    events, labels = generate(seed=8, days=7)
    return [Event.from_dict(e) for e in events], labels


def _labels(labels: list[dict[str, Any]], scenario: str) -> list[dict[str, Any]]:
    found = [lab for lab in labels if lab["scenario"] == scenario]
    assert found, f"no {scenario} injected"
    return found


def _span(label: dict[str, Any]) -> tuple[int, int]:
    return parse_ts_ms(label["start"]), parse_ts_ms(label["end"])


def test_cross_district_labels_name_districts_on_different_producer_partitions(week):
    _, labels = week
    for scenario, n in zip(CROSS, (2, 4, 2, 3), strict=True):
        for lab in _labels(labels, scenario):
            parts = {partition_for(r.encode(), PRODUCER_PARTITIONS) for r in lab["regions"]}
            assert len(lab["regions"]) == len(parts) == n, lab
            assert lab["region"] == lab["regions"][0]
    assert all("regions" not in lab for lab in labels if lab["scenario"] not in CROSS)


def test_a_resubmitting_citizen_uses_two_halls_neither_seeing_four(week):
    events, labels = week
    halls: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for e in events:
        if e.type == "application.submitted":
            halls[f"{e.attrs['applicant']}|{e.attrs['item']}"].append((e.ts_ms, e.region))
            assert e.source == (
                "provincial-portal" if e.attrs["channel"] == "online" else "service-hall"
            )
    for lab in _labels(labels, "cross_district_resubmissions"):
        seen = halls[lab["key"]]
        per_hall = Counter(region for _, region in seen)
        assert set(per_hall) == set(lab["regions"]) and max(per_hall.values()) <= 3
        assert 4 <= len(seen) <= 6 and seen[-1][0] - seen[0][0] <= 3 * DAY_MS
        assert _span(lab) == (seen[0][0], seen[-1][0] + DAY_MS)


def test_one_account_behind_five_or_six_enterprises_of_four_districts(week):
    events, labels = week
    holders: dict[str, list[Event]] = defaultdict(list)
    for e in events:
        if "bank_account" in e.attrs:
            holders[e.attrs["bank_account"]].append(e)
    shared = {lab["key"]: lab for lab in _labels(labels, "shared_bank_account")}
    for account, lab in shared.items():
        reports = holders[account]
        assert len({e.entity_id for e in reports}) in (5, 6)
        assert sorted({e.region for e in reports}) == sorted(lab["regions"])
        assert max(Counter(e.region for e in reports).values()) <= 2
        assert all(e.region == e.entity_id[2:8] for e in reports)  # each at its home office
        assert _span(lab) == (reports[0].ts_ms, reports[-1].ts_ms + DAY_MS)
    others = Counter(len({e.entity_id for e in r}) for a, r in holders.items() if a not in shared)
    assert max(others) == 2 and others[1] > 50  # a parent and its branch: under the five


def _inspections(events: list[Event]) -> dict[str, list[Event]]:
    out: dict[str, list[Event]] = defaultdict(list)
    for e in events:
        if e.type.startswith("inspection."):
            out[e.entity_id].append(e)
    return out


def test_a_finding_away_from_home_then_a_deregistration_at_home(week):
    events, labels = week
    inspections = _inspections(events)
    deregs = {e.entity_id: e for e in events if e.type == "enterprise.deregistration_applied"}
    labelled = {lab["key"]: lab for lab in _labels(labels, "dereg_after_finding")}
    for enterprise, lab in labelled.items():
        finding, dereg = inspections[enterprise][0], deregs[enterprise]
        assert finding.attrs["result"] == "finding" and len(inspections[enterprise]) == 1
        assert [finding.region, dereg.region] == lab["regions"] and dereg.region == enterprise[2:8]
        assert _span(lab) == (finding.ts_ms, dereg.ts_ms + DAY_MS)
    near_misses = 0
    for enterprise, dereg in deregs.items():
        if enterprise in labelled:
            continue
        before = [e for e in inspections.get(enterprise, ()) if e.ts_ms < dereg.ts_ms]
        findings = sum(e.attrs.get("result") == "finding" for e in before)
        assert findings == sum(e.type == "inspection.rectified" for e in before), enterprise
        near_misses += any(e.region != dereg.region for e in before)
    assert near_misses >= 1  # rectified in the inspecting district, then deregistered at home


def test_the_cross_district_scenarios_only_add_events():
    """A seed's in-district week stays what it was without the register and the cross-district
    scenarios (they are drawn last)."""
    full, _ = generate(seed=5, days=3, scale=0.3)
    older, labels = generate(seed=5, days=3, scale=0.3, cross_district=False)
    ids = {e["id"] for e in older}
    kept = [e for e in full if e["id"] in ids]
    assert kept == older and len(full) > len(older)
    assert not {lab["scenario"] for lab in labels} & set(CROSS)
