"""The shipped library: it loads, and each rule catches its scenario in a small stream.

(The simulator-based detection check is in the lead's tests; these drive each rule with
literal events, including the rules the simulator cannot exercise.)
"""

from __future__ import annotations

from pathlib import Path

import pytest
from event_factories import make_event
from rule_factories import DAY, HOUR, MIN, T0

from rules import load_rules
from rules.engine.engine import Engine

LIBRARY = Path(__file__).resolve().parents[2] / "rules" / "library"
SCENARIO_RULES = {"approval-overdue", "repeated-submissions", "hotline-surge", "staff-bulk-access"}


@pytest.fixture(scope="module")
def ruleset():
    return load_rules(LIBRARY)


def only(ruleset, *ids: str) -> Engine:
    from rules import RuleSet

    return Engine(RuleSet([ruleset.by_id(i) for i in ids]), lateness_ms=0)


def ent(ts, type, who="E1", **attrs):
    return make_event(ts_ms=ts, type=type, entity=("enterprise", who), stream="regulatory", **attrs)


def run(eng: Engine, events, until=None):
    out = [w for e in sorted(events, key=lambda e: e.ts_ms) for w in eng.process(e)]
    return out + (eng.advance_to(until) if until else [])


def test_library_loads_with_scenario_rules_and_one_of_each_type(ruleset) -> None:
    ids = {r.id for r in ruleset.rules}
    assert ids >= SCENARIO_RULES
    assert {r.type for r in ruleset.rules} == {
        "match",
        "threshold",
        "ratio",
        "spike",
        "new_value",
        "change",
        "sequence",
        "absence",
        "anomaly",
    }
    assert all(r.owner and r.description for r in ruleset.rules)


def test_inspection_not_rectified_counts_working_days_and_resolves(ruleset) -> None:
    eng = only(ruleset, "inspection-not-rectified")
    finding = ent(T0, "inspection.performed", inspection_id="I-1", result="finding", inspector="x")
    passed = ent(T0, "inspection.performed", "E2", inspection_id="I-2", result="pass")
    out = run(eng, [finding, passed], until=T0 + 8 * DAY)
    assert [(w.stage, w.ts_ms) for w in out] == [
        ("due-soon", T0 + 4 * DAY),
        ("overdue", T0 + 7 * DAY),
    ]  # Mon + 5 workdays; due soon on the 4th of them (Friday)
    [resolved] = eng.process(ent(T0 + 8 * DAY + HOUR, "inspection.rectified", inspection_id="I-1"))
    assert resolved.stage == "resolved" and "E1" in out[0].title


def test_dereg_after_finding(ruleset) -> None:
    eng = only(ruleset, "dereg-after-finding")
    out = run(
        eng,
        [
            ent(T0, "inspection.performed", result="finding"),
            ent(T0 + 20 * DAY, "enterprise.deregistration_applied"),
            ent(T0, "inspection.performed", "E2", result="finding"),
            ent(T0 + DAY, "inspection.rectified", "E2"),
            ent(T0 + 2 * DAY, "enterprise.deregistration_applied", "E2"),
        ],
    )
    assert [w.key for w in out] == ["E1"] and out[0].severity == "high"


def test_shell_companies_at_one_address_and_one_bank_account(ruleset) -> None:
    eng = only(ruleset, "shell-company-shared-address", "shell-company-shared-bank-account")
    events = [
        ent(
            T0 + i * DAY,
            "enterprise.registered",
            f"E{i}",
            address="No. 8 Wenyi Rd",
            bank_account="6222020200001234" if i < 6 else f"62220202000099{i:02d}",
        )
        for i in range(12)
    ]
    out = run(eng, events)
    assert [(w.rule_id, w.value) for w in out] == [
        ("shell-company-shared-address", 5.0),
        ("shell-company-shared-bank-account", 5.0),
        ("shell-company-shared-address", 10.0),  # again, as high
    ]


def test_data_feed_silent_and_back(ruleset) -> None:
    eng = only(ruleset, "data-feed-silent")
    beats = [
        make_event(ts_ms=T0 + i * 40 * MIN, type="data.feed_delivered", feed="tax-bureau", rows=10)
        for i in range(4)
    ]
    out = run(eng, beats, until=T0 + 5 * HOUR)
    assert [(w.stage, w.ts_ms) for w in out] == [("silent", T0 + 120 * MIN + 90 * MIN)]
    back = eng.process(
        make_event(ts_ms=T0 + 6 * HOUR, type="data.feed_delivered", feed="tax-bureau", rows=10)
    )
    assert [w.stage for w in back] == ["resolved"]


def test_staff_new_dataset_after_warmup_in_shadow_mode(ruleset) -> None:
    eng = only(ruleset, "staff-new-dataset")

    def read(ts, dataset):
        return make_event(
            ts_ms=ts,
            type="data.access",
            account="stf-1",
            dataset=dataset,
            citizen="c",
            purpose="case-handling",
        )

    out = run(
        eng,
        [
            read(T0, "tax"),
            read(T0 + DAY, "household"),
            read(T0 + 4 * DAY, "medical"),
            read(T0 + 5 * DAY, "medical"),
        ],
    )
    assert [w.details["new"] for w in out] == ["medical"] and out[0].details["shadow"]


def test_night_sensitive_access_uses_the_shared_list_and_macro(ruleset) -> None:
    eng = only(ruleset, "night-sensitive-access")
    night = T0 + 14 * HOUR  # 23:15
    events = [
        make_event(
            ts_ms=night,
            type="data.access",
            account="s1",
            dataset="medical",
            department="health",
            citizen="c1",
        ),
        make_event(
            ts_ms=night + MIN,
            type="data.access",
            account="s2",
            dataset="household",
            department="public-security",
            citizen="c2",
        ),
        make_event(
            ts_ms=night + 2 * MIN,
            type="data.access",
            account="s3",
            dataset="vehicle",
            department="health",
            citizen="c3",
        ),
        make_event(
            ts_ms=T0,
            type="data.access",
            account="s4",
            dataset="medical",
            department="health",
            citizen="c4",
        ),
    ]
    assert [w.key for w in run(eng, events)] == ["s1"]


def _decisions(rejected: list[bool]) -> list:
    return [
        make_event(
            ts_ms=T0 + i * HOUR,
            type="application.decided",
            official="o1",
            decision="rejected" if no else "approved",
        )
        for i, no in enumerate(rejected)
    ]


def test_official_rejection_rate(ruleset) -> None:
    eng = only(ruleset, "official-rejection-rate")
    out = run(eng, _decisions([i % 4 != 0 for i in range(24)]))
    assert [round(w.value, 2) for w in out] == [0.75]  # once, at the 16th decision


def test_official_rejecting_half_a_repeated_applicant_is_not_raised(ruleset) -> None:
    eng = only(ruleset, "official-rejection-rate")
    assert run(eng, _decisions([i % 2 == 1 for i in range(20)])) == []
    eng = only(ruleset, "official-rejection-rate")
    assert run(eng, _decisions([True] * 15)) == []  # too few decisions to judge a share


def test_enterprise_legal_rep_change(ruleset) -> None:
    eng = only(ruleset, "enterprise-legal-rep-change")
    events = [
        ent(T0, "enterprise.registered", legal_rep="p1"),
        ent(T0 + 100 * DAY, "enterprise.registration_updated", legal_rep="p2"),
    ]
    [w] = run(eng, events)
    assert w.title == "E1: legal representative changed from p1 to p2"


def test_enterprise_multiple_risks_correlates_warnings_of_other_rules(ruleset) -> None:
    eng = only(
        ruleset,
        "inspection-not-rectified",
        "dereg-after-finding",
        "shell-company-shared-bank-account",
        "enterprise-multiple-risks",
    )
    events = [
        ent(T0, "inspection.performed", inspection_id="I-1", result="finding"),
        ent(T0 + 9 * DAY, "enterprise.deregistration_applied"),
    ]
    events += [
        ent(T0 + 10 * DAY + i, "enterprise.registered", f"E{i}", bank_account="6222000011112222")
        for i in (2, 3, 4, 5)
    ]
    events.append(
        ent(T0 + 10 * DAY + 5, "enterprise.registration_updated", bank_account="6222000011112222")
    )
    out = run(eng, events)
    meta = [w for w in out if w.rule_id == "enterprise-multiple-risks"]
    assert [(w.key, w.value) for w in meta] == [("E1", 3.0)] and meta[0].details["shadow"]


def test_every_shipped_rule_names_the_scenario_it_is_meant_to_catch(ruleset) -> None:
    untagged = [r.id for r in ruleset.rules if not any(t.startswith("scenario:") for t in r.tags)]
    assert untagged == []


def test_the_behaviour_rules_are_tagged_for_the_scenarios_they_are_scored_on(ruleset) -> None:
    from replay.sim_behaviour import MEANT_FOR

    for rule_id, scenarios in MEANT_FOR.items():
        tags = {t for t in ruleset.by_id(rule_id).tags if t.startswith("scenario:")}
        assert tags == {f"scenario:{s}" for s in scenarios}, rule_id
