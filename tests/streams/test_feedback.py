"""The feedback agent's step: ``clue.dispositions`` carries every step of a clue, but only the
verdicts are counted, each once (a plain dict stands in for the Faust table)."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from envelope.events import ClueTransition, Disposition, transition_id
from streams.agents import _record_disposition, precision

T0 = 1_772_414_100_000  # 2026-03-02T01:15:00Z


def counted(rule: str, outcome: str) -> float:
    labels = {"rule": rule, "outcome": outcome}
    return REGISTRY.get_sample_value("riskloop_dispositions_total", labels) or 0.0


def step(clue: str, rule: str, action: str, frm: str, to: str, version: int) -> bytes:
    return ClueTransition(
        id=transition_id(clue, version),
        clue_id=clue,
        rule_id=rule,
        action=action,
        from_status=frm,
        to_status=to,
        actor="alice",
        role="inspector",
        ts_ms=T0 + version,
        reason="",
        version=version,
        before={"status": frm},
        after={"status": to},
    ).to_json()


def verdict(clue: str, rule: str, outcome: str, code: str, version: int) -> bytes:
    return Disposition(
        f"disp-{clue}-{version}", clue, rule, "k", outcome, code, "alice", T0 + version
    ).to_json()


def test_transitions_are_skipped_and_each_verdict_is_counted_once() -> None:
    rule = "feedback.mixed"
    table: dict[str, dict[str, str]] = {}
    messages = [
        step("c1", rule, "open", "", "new", 1),
        step("c1", rule, "dispatch", "new", "dispatched", 2),
        step("c1", rule, "claim", "dispatched", "claimed", 3),
        verdict("c1", rule, "confirmed", "rectified", 4),
        step("c1", rule, "dispose", "claimed", "disposed", 4),
        step("c2", rule, "open", "", "new", 1),
        verdict("c2", rule, "dismissed", "false_positive", 2),
        step("c2", rule, "dismiss", "new", "closed", 2),
        verdict("c1", rule, "confirmed", "rectified", 4),  # redelivered after a restart
        step("c1", rule, "submit", "disposed", "reviewing", 5),
    ]

    for raw in messages:
        _record_disposition(table, raw)

    assert table == {
        "c1": {"id": "disp-c1-4", "rule": rule, "outcome": "confirmed"},
        "c2": {"id": "disp-c2-2", "rule": rule, "outcome": "dismissed"},
    }
    assert (counted(rule, "confirmed"), counted(rule, "dismissed")) == (1.0, 1.0)
    assert precision(table.values()) == {rule: {"confirmed": 1, "dismissed": 1, "precision": 0.5}}


def test_a_transition_alone_leaves_the_table_and_the_counters_untouched() -> None:
    rule = "feedback.steps-only"
    table: dict[str, dict[str, str]] = {}

    _record_disposition(table, step("c9", rule, "return", "claimed", "returned", 4))

    assert table == {}
    assert counted(rule, "confirmed") + counted(rule, "dismissed") == 0.0


def test_a_disposition_written_before_records_had_a_kind_is_still_counted() -> None:
    rule = "feedback.legacy"
    table: dict[str, dict[str, str]] = {}
    legacy = (
        b'{"id": "disp-old", "clue_id": "c7", "rule_id": "feedback.legacy", "key": "k",'
        b' "outcome": "dismissed", "code": "duplicate", "actor": "bob", "ts_ms": 1772414100000,'
        b' "warning_ids": ["w1"]}'
    )

    _record_disposition(table, legacy)

    assert table == {"c7": {"id": "disp-old", "rule": rule, "outcome": "dismissed"}}
    assert counted(rule, "dismissed") == 1.0


def test_a_later_verdict_on_the_same_clue_replaces_the_earlier_one() -> None:
    rule = "feedback.rework"
    table: dict[str, dict[str, str]] = {}

    _record_disposition(table, verdict("c3", rule, "confirmed", "rectified", 4))
    _record_disposition(table, step("c3", rule, "reject", "reviewing", "claimed", 6))
    _record_disposition(table, verdict("c3", rule, "dismissed", "not_applicable", 8))

    assert table["c3"] == {"id": "disp-c3-8", "rule": rule, "outcome": "dismissed"}
    assert precision(table.values())[rule]["precision"] == 0.0


def test_a_dismissed_verdict_on_a_detector_rule_reaches_its_engine_and_is_learned() -> None:
    from pathlib import Path

    from event_factories import make_event

    from rules import RuleSet, load_rules
    from rules.engine.engine import Engine
    from rules.language.model import parse_rule
    from streams.agents import learns_from_verdicts
    from streams.verdicts import InvalidVerdict, parse_verdict, verdict_record

    library = load_rules(Path(__file__).resolve().parents[2] / "rules" / "library")
    assert learns_from_verdicts(library, "approver-anomaly")
    assert not learns_from_verdicts(library, "staff-bulk-access")  # no detector to teach

    rule = parse_rule(
        "id: odd-exports\ntitle: t\ntype: anomaly\nmatch: {type: data.export}\n"
        "group_by: [attrs.account]\ndetector: {name: gaussian}\n"
        'features: ["value:attrs.rows"]\nthreshold: {quantile: 0.95, min_samples: 50}\n',
        "odd-exports.yaml",
    )
    eng = Engine(RuleSet([rule]), lateness_ms=0)
    for i in range(100):
        eng.process(
            make_event(
                ts_ms=T0 + i * 60_000,
                type="data.export",
                account=f"a{i % 9}",
                rows=20 + i % 5,
                id=f"e{i}",
            )
        )
    (w,) = eng.process(
        make_event(ts_ms=T0 + 101 * 60_000, type="data.export", account="odd", rows=900, id="odd")
    )
    table: dict[str, dict[str, str]] = {}
    raw = Disposition("d1", "c1", w.rule_id, w.key, "dismissed", "false_positive", "alice", T0)
    d = _record_disposition(table, raw.to_json())
    assert d is not None and _record_disposition(table, raw.to_json()) is None  # once only

    v = parse_verdict(verdict_record(d))
    assert eng.feedback(v.rule_id, v.key, v.outcome) is True
    assert eng.stats["odd-exports"]["learned"] == 1
    assert eng.feedback(v.rule_id, v.key, v.outcome) is False  # forwarded twice: learned once
    with pytest.raises(InvalidVerdict):  # malformed: dead-lettered by the worker, not ignored
        parse_verdict(b"not json")
