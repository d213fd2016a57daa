"""Detection scoring against labels: time windows with grace, keys, scenarios, the table."""

from __future__ import annotations

from typing import Any

from envelope.events import RiskWarning
from replay.score import DEFAULT_GRACE_MS, Score, format_table, score

HOUR_MS = 3_600_000
# 2026-03-02T09:00:00+08:00 and 2026-03-02T12:00:00+08:00
START_MS = 1_772_413_200_000
END_MS = 1_772_424_000_000


def warning(key: str, ts_ms: int, *tags: str, wid: str | None = None) -> RiskWarning:
    return RiskWarning(
        id=wid or f"w-{key}-{ts_ms}-{'-'.join(tags)}",
        fingerprint=f"f-{key}",
        rule_id="staff-bulk-access",
        rule_version=1,
        logic_hash="h1",
        severity="high",
        title="bulk access",
        key=key,
        ts_ms=ts_ms,
        region="330106",
        department="public-security",
        tags=tags,
    )


def label(key: str, scenario: str = "staff_bulk_access") -> dict[str, Any]:
    return {
        "scenario": scenario,
        "key": key,
        "start": "2026-03-02T09:00:00+08:00",
        "end": "2026-03-02T12:00:00+08:00",
        "region": "330106",
        "note": "bulk read",
    }


BULK = "scenario:staff_bulk_access"


def test_a_warning_inside_the_window_detects_the_label() -> None:
    s = score([warning("stf-1", START_MS + HOUR_MS, BULK)], [label("stf-1")])["staff_bulk_access"]
    assert (s.labels, s.detected, s.recall, s.warnings, s.matched, s.precision) == (
        1,
        1,
        1.0,
        1,
        1,
        1.0,
    )
    assert s.missed == []


def test_grace_window_edges_are_inclusive() -> None:
    last_ok = END_MS + DEFAULT_GRACE_MS
    assert (
        score([warning("stf-1", last_ok, BULK)], [label("stf-1")])["staff_bulk_access"].detected
        == 1
    )
    assert (
        score([warning("stf-1", START_MS, BULK)], [label("stf-1")])["staff_bulk_access"].detected
        == 1
    )
    late = score([warning("stf-1", last_ok + 1, BULK)], [label("stf-1")])["staff_bulk_access"]
    early = score([warning("stf-1", START_MS - 1, BULK)], [label("stf-1")])["staff_bulk_access"]
    for s in (late, early):
        assert (s.detected, s.recall, s.matched, s.precision) == (0, 0.0, 0, 0.0)
        assert s.missed == ["stf-1"]


def test_grace_is_configurable() -> None:
    w = warning("stf-1", END_MS + HOUR_MS, BULK)
    assert score([w], [label("stf-1")], grace_ms=0)["staff_bulk_access"].detected == 0
    assert score([w], [label("stf-1")], grace_ms=HOUR_MS)["staff_bulk_access"].detected == 1


def test_wrong_key_is_a_miss_and_a_false_positive() -> None:
    s = score([warning("stf-2", START_MS + HOUR_MS, BULK)], [label("stf-1")])["staff_bulk_access"]
    assert (s.labels, s.detected, s.warnings, s.matched) == (1, 0, 1, 0)
    assert s.precision == 0.0 and s.missed == ["stf-1"]


def test_a_rule_tagged_for_another_scenario_does_not_count() -> None:
    scores = score(
        [warning("stf-1", START_MS + HOUR_MS, "scenario:approver_anomaly")], [label("stf-1")]
    )
    assert scores["staff_bulk_access"].detected == 0
    assert scores["staff_bulk_access"].precision is None  # no warning of a bulk-access rule
    assert (scores["approver_anomaly"].labels, scores["approver_anomaly"].warnings) == (0, 1)
    assert scores["approver_anomaly"].recall is None and scores["approver_anomaly"].precision == 0.0


def test_a_rule_tagged_for_two_scenarios_is_not_blamed_in_one_for_its_finds_in_the_other() -> None:
    """repeated-submissions catches a citizen at one hall and at two: a find of either kind is
    no false alarm of the other; a warning matching neither is a false alarm of both."""
    both = ("scenario:staff_bulk_access", "scenario:cross_district")
    warnings = [
        warning("stf-1", START_MS + HOUR_MS, *both),
        warning("stf-2", START_MS + HOUR_MS, *both),
        warning("stf-3", START_MS + HOUR_MS, *both),
    ]
    scores = score(warnings, [label("stf-1"), label("stf-2", "cross_district")])
    one, two = scores["staff_bulk_access"], scores["cross_district"]
    assert (one.labels, one.detected, one.warnings, one.matched) == (1, 1, 2, 1)
    assert (two.labels, two.detected, two.warnings, two.matched) == (1, 1, 2, 1)
    assert one.precision == two.precision == 0.5


def test_untagged_warnings_are_scored_as_untagged_not_as_misses() -> None:
    scores = score([warning("stf-1", START_MS + HOUR_MS, "domain:data-access")], [label("stf-1")])
    assert list(scores) == ["staff_bulk_access", "untagged"]
    assert scores["staff_bulk_access"].warnings == 0
    untagged = scores["untagged"]
    assert (untagged.warnings, untagged.precision) == (1, None)
    table = format_table(scores).splitlines()
    assert table[2].split() == ["untagged", "0", "0", "-", "1", "0", "untagged"]
    assert table[3].split()[-3:] == ["0", "0", "-"]  # the total leaves them out


def test_counts_over_several_labels_and_warnings() -> None:
    labels = [label("stf-1"), label("stf-2"), label("stf-3"), label("A-9", "approval_overdue")]
    warnings = [
        warning("stf-1", START_MS + 1, BULK, wid="w1"),
        warning("stf-1", START_MS + 2, BULK, wid="w2"),  # a second warning for one label
        warning("stf-2", END_MS, BULK, wid="w3"),
        warning("stf-7", END_MS, BULK, wid="w4"),  # no such label
        warning("A-9", END_MS + 2 * HOUR_MS, "scenario:approval_overdue", wid="w5"),
    ]
    scores = score(warnings, labels)
    bulk, overdue = scores["staff_bulk_access"], scores["approval_overdue"]
    assert (bulk.labels, bulk.detected, bulk.warnings, bulk.matched) == (3, 2, 4, 3)
    assert bulk.recall == 2 / 3 and bulk.precision == 3 / 4 and bulk.missed == ["stf-3"]
    assert (overdue.labels, overdue.detected, overdue.warnings, overdue.matched) == (1, 1, 1, 1)


def test_labels_may_carry_epoch_milliseconds() -> None:
    lab = {"scenario": "s", "key": "k", "start": START_MS, "end": END_MS}
    assert score([warning("k", END_MS, "scenario:s")], [lab])["s"].detected == 1


def test_table_is_aligned_with_a_total_row() -> None:
    table = format_table(
        {
            "approval_overdue": Score(
                "approval_overdue", labels=11, detected=11, warnings=12, matched=11
            ),
            "hotline_surge": Score("hotline_surge", labels=5, detected=4, warnings=0, matched=0),
        }
    )
    lines = table.splitlines()
    assert lines[0].split() == [
        "scenario",
        "labels",
        "detected",
        "recall",
        "warnings",
        "matched",
        "precision",
    ]
    assert lines[1].split() == ["approval_overdue", "11", "11", "100%", "12", "11", "92%"]
    assert lines[2].split() == ["hotline_surge", "5", "4", "80%", "0", "0", "-"]
    assert lines[3].split() == ["all", "16", "15", "94%", "12", "11", "92%"]
    # Columns line up: every row ends its "recall" column at the same place.
    ends = {
        line.index(word) + len(word)
        for line, word in zip(lines, ["recall", "100%", "80%", "94%"], strict=True)
    }
    assert len(ends) == 1


def test_a_resolved_warning_is_not_a_detection_nor_a_false_one():
    import dataclasses

    fired = warning("stf-1", START_MS + HOUR_MS, BULK)
    resolved = dataclasses.replace(
        fired, id="w-resolved", stage="resolved", ts_ms=START_MS + 9 * HOUR_MS
    )
    s = score([fired, resolved], [label("stf-1")])["staff_bulk_access"]
    assert (s.warnings, s.matched, s.precision) == (1, 1, 1.0)
