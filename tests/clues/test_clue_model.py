"""The pure parts of the clue queue: state machine, roles, calendar and colours, access,
pseudonyms, list plans, argument checks, records. No Redis."""

from __future__ import annotations

import doctest
from datetime import date

import pytest
from clue_factories import ALICE, CENTRE, T0, make_warning

import clues.access
import clues.errors
import clues.keys
import clues.listing
import clues.model
import clues.privacy
import clues.workdays
from clues import actions, scripts
from clues.access import BadTokenSpec, Principal, parse_bootstrap, token_hash
from clues.keys import Keys
from clues.listing import InvalidCursor, InvalidQuery, ListQuery, decode_cursor, plan
from clues.model import (
    DISPOSITION_CODES,
    STATUSES,
    TRANSITIONS,
    BadDisposition,
    Clue,
    Forbidden,
    IllegalTransition,
    UnknownDispositionCode,
    check_transition,
    clue_id,
    may,
    outcome_of,
)
from clues.privacy import Masker
from clues.workdays import (
    Terms,
    WorkCalendar,
    colour,
    deadline_ms,
    default_policy,
    escalation_due,
    iso_local,
    ms_of,
    next_check_ms,
)

MODULES = [
    clues.model,
    clues.keys,
    clues.workdays,
    clues.access,
    clues.privacy,
    clues.listing,
    clues.errors,
]


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_docstring_examples_hold(module: object) -> None:
    result = doctest.testmod(module)  # type: ignore[arg-type]
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize(
    ("action", "status", "target"),
    [
        ("dispatch", "new", "dispatched"),
        ("claim", "dispatched", "claimed"),
        ("expire", "claimed", "dispatched"),
        ("dispose", "investigating", "disposed"),
        ("reject", "reviewing", "claimed"),
        ("comment", "closed", "closed"),
    ],
)
def test_legal_transitions_reach_their_target(action: str, status: str, target: str) -> None:
    assert check_transition(action, status) == target


@pytest.mark.parametrize(
    ("action", "status"),
    [("claim", "new"), ("dispose", "dispatched"), ("dispatch", "closed"), ("label", "merged")],
)
def test_illegal_transitions_are_refused_naming_the_allowed_sources(
    action: str, status: str
) -> None:
    with pytest.raises(IllegalTransition, match=f"cannot {action} a clue that is {status}") as e:
        check_transition(action, status)
    assert e.value.status == status


def test_closed_and_merged_are_terminal_no_verb_leaves_them_but_notes() -> None:
    leaving = {
        a
        for a, t in TRANSITIONS.items()
        if t.target and ("closed" in t.sources or "merged" in t.sources)
    }
    assert leaving == set()


def test_only_the_centre_dispatches_and_only_the_department_disposes() -> None:
    assert [r for r in clues.model.ROLES if may("dispatch", r)] == ["supervisor", "admin"]
    assert [r for r in clues.model.ROLES if may("dispose", r)] == ["inspector", "lead"]
    assert not may("expire", "admin")  # system only


def test_lua_carries_the_tables_of_the_python_model() -> None:
    assert "a == 'claim' then v = {['dispatched']=true}" in scripts.PRELUDE  # SOURCES
    assert "a == 'dispatch' then v = {['supervisor']=true, ['admin']=true}" in scripts.PRELUDE
    assert "local RETURNS_ARB = 2" in scripts.PRELUDE
    assert all(f"E['{a}']" in scripts.TRANSITION for a in clues.model.USER_ACTIONS if a != "merge")


def test_clue_ids_are_deterministic_per_fingerprint_and_generation() -> None:
    assert clue_id("fp-1") == clue_id("fp-1", 0) == "clue-316e2296dc2206084d37"
    assert len({clue_id("fp-1", g) for g in range(5)} | {clue_id("fp-2")}) == 6


def test_every_disposition_code_maps_to_a_published_outcome() -> None:
    assert set(DISPOSITION_CODES.values()) == {"confirmed", "dismissed"}
    assert outcome_of("not_applicable") == "dismissed"
    with pytest.raises(UnknownDispositionCode, match="use one of confirmed_violation, rectified"):
        outcome_of("closed")


# --- calendar and deadlines --------------------------------------------------------------------


def test_working_days_follow_the_statutory_calendar_with_make_up_days() -> None:
    cal = WorkCalendar()
    assert cal.is_workday(date(2026, 2, 14))  # a Saturday made a working day (调休)
    assert not cal.is_workday(date(2026, 10, 1))  # National Day
    assert cal.is_workday(date(2027, 3, 1)) and not cal.is_workday(date(2027, 3, 6))  # weekdays
    patched = WorkCalendar({date(2027, 3, 1): False})
    assert not patched.is_workday(date(2027, 3, 1))


def test_a_deadline_spanning_national_day_skips_the_holiday_week() -> None:
    cal = WorkCalendar()
    # dispatched Tue 2026-09-29: working days 30 Sep, 8 Oct, 9 Oct, then Sat 10 Oct (调休)
    due = deadline_ms(ms_of(2026, 9, 29, 10), 4, cal)
    assert iso_local(due) == "2026-10-10T23:59:59.999+08:00"


def test_policy_is_per_category_and_risk_level_with_statutory_caps() -> None:
    policy = default_policy()
    assert policy.lookup("market-supervision", "low").dispose_days == 15  # Art. 18 cap
    assert policy.lookup("housing", "low").dispose_days == 30
    assert policy.lookup("housing", "critical").sign_days == 0
    assert policy.lookup("anything", "unknown-level") == Terms()


@pytest.mark.parametrize(
    ("now", "claimed", "want"),
    [
        (ms_of(2026, 3, 10, 9), True, "green"),
        (ms_of(2026, 3, 18, 9), True, "blue"),
        (ms_of(2026, 3, 23, 9), True, "yellow"),
        (ms_of(2026, 3, 5, 9), False, "yellow"),  # not signed for by the sign deadline
        (ms_of(2026, 3, 24, 0), True, "red"),
    ],
)
def test_colours(now: int, claimed: bool, want: str) -> None:
    due, sign_due = ms_of(2026, 3, 24) - 1, ms_of(2026, 3, 4) - 1
    assert colour(now, due, sign_due, claimed, Terms(), WorkCalendar()) == want


def test_escalation_after_n_working_days_red_per_level() -> None:
    cal, terms = WorkCalendar(), Terms(escalate_after_days=3)
    red_since = ms_of(2026, 3, 24, 0)
    assert not escalation_due(ms_of(2026, 3, 26, 9), red_since, 1, terms, cal)
    assert escalation_due(ms_of(2026, 3, 27, 9), red_since, 1, terms, cal)
    assert not escalation_due(ms_of(2026, 3, 27, 9), red_since, 2, terms, cal)


def test_the_ticker_looks_again_at_midnight_or_when_a_deadline_passes() -> None:
    now = ms_of(2026, 3, 23, 10)
    assert next_check_ms(now, ms_of(2026, 3, 30), None, True) == ms_of(2026, 3, 24)
    assert next_check_ms(now, ms_of(2026, 3, 23, 12), None, True) == ms_of(2026, 3, 23, 12) + 1


# --- access, pseudonyms ------------------------------------------------------------------------


def test_scopes_cover_region_prefixes_and_listed_departments() -> None:
    p = Principal("a", "inspector", ("market-supervision",), ("3301", "3302"))
    assert p.covers("market-supervision", "330106") and p.covers("market-supervision", "330201")
    assert not p.covers("housing", "330106") and not p.covers("market-supervision", "340101")
    assert Principal("s", "supervisor").covers("anything", "999999")


def test_bootstrap_specs_parse_or_name_the_bad_entry() -> None:
    pairs = parse_bootstrap("a=alice:inspector:ms,housing:*; b=bob:admin:*:3301")
    assert [(t, p.name, p.departments, p.regions) for t, p in pairs] == [
        ("a", "alice", ("ms", "housing"), None),
        ("b", "bob", None, ("3301",)),
    ]
    with pytest.raises(BadTokenSpec, match="token entry 2 .*write TOKEN=actor:role"):
        parse_bootstrap("a=alice:inspector:*:* broken")
    assert token_hash("x") != "x" and len(token_hash("x")) == 64


def test_pseudonyms_are_stable_keyed_and_hide_every_personal_identifier() -> None:
    clue = {
        "title": "applicant 110101199003077777 called from 13800138000",
        "key": "region=330106|applicant=cit-9f2",
        "summary": "cit-9f2 resubmitted",
        "details": {"entity": {"kind": "citizen", "id": "cit-9f2"}, "fields": {"n": 3}},
    }
    a, b, other_key = Masker(b"k1").clue(clue), Masker(b"k1").clue(clue), Masker(b"k2").clue(clue)

    text = str(a)
    for secret in ("110101199003077777", "13800138000", "cit-9f2"):
        assert secret not in text
    assert a == b and a["key"] != other_key["key"]
    assert a["details"]["entity"]["id"] in a["summary"]  # same person, same pseudonym
    assert a["details"]["fields"] == {"n": 3}
    enterprise = Masker(b"k1").clue({"key": "enterprise=91330106MA2B", "details": {}})
    assert enterprise["key"] == "enterprise=91330106MA2B"  # enterprises are not persons


# --- list plans ------------------------------------------------------------------------------


def test_list_plans_pick_the_most_selective_index_and_scope_the_filters() -> None:
    k = Keys("rl")
    assert plan(k, ListQuery(), None).key == "rl:q:all"
    assert plan(k, ListQuery(status=("new",)), None).key == "rl:q:new"
    assert plan(k, ListQuery(), ALICE).key == "rl:q:all:dept:market-supervision"
    assert plan(k, ListQuery(assignee="alice"), ALICE).key == "rl:q:assignee:alice"
    assert plan(k, ListQuery(colour="red", sort="due"), CENTRE).key == "rl:q:colour:red"
    scoped = plan(k, ListQuery(department="housing"), ALICE).filters
    assert scoped["departments"] == {"\x00none": True}  # outside her scope: nothing
    assert plan(k, ListQuery(), ALICE).filters["regions"] == ["3301"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (ListQuery(status=("open",)), "unknown status 'open'"),
        (ListQuery(colour="pink"), "use one of green, blue, yellow, red"),
    ],
)
def test_bad_queries_name_the_valid_values(query: ListQuery, message: str) -> None:
    with pytest.raises(InvalidQuery, match=message):
        query.validate()


@pytest.mark.parametrize("cursor", ["garbage!", "bmFu", "aW5mAXg"])
def test_cursors_not_from_the_store_are_refused(cursor: str) -> None:
    with pytest.raises(InvalidCursor, match="pass back the next_cursor"):
        decode_cursor(cursor)


# --- argument checks -------------------------------------------------------------------------


def _clue(**kw: object) -> Clue:
    w = make_warning("w1")
    base = {
        "id": "c1",
        "fingerprint": w.fingerprint,
        "generation": 0,
        "status": "new",
        "rule_id": w.rule_id,
        "rule_version": 1,
        "severity": "medium",
        "title": "",
        "key": w.key,
        "region": w.region,
        "department": w.department,
        "first_seen_ms": T0,
        "last_seen_ms": T0,
        "warning_count": 1,
        "version": 1,
    }
    return Clue(**{**base, **kw})  # type: ignore[arg-type]


def _ctx(clue: Clue, who: Principal = CENTRE) -> actions.Context:
    return actions.Context(clue, who, T0, default_policy(), WorkCalendar())


def test_dispatch_snapshots_the_policy_terms_onto_the_clue() -> None:
    args = actions.prepare("dispatch", _ctx(_clue()), {})
    assert (args["department"], args["colour"]) == ("market-supervision", "green")
    assert iso_local(int(args["due_ms"])) == "2026-03-23T23:59:59.999+08:00"
    assert '"dispose_days":15' in args["sla"] and '"category":"market-supervision"' in args["sla"]


@pytest.mark.parametrize(
    ("action", "args", "error", "message"),
    [
        ("dispose", {"code": "false_positive"}, BadDisposition, "sub_reason '' is not valid"),
        ("dispose", {"code": "rectified", "sub_reason": "x"}, BadDisposition, "only for false"),
        ("dispose", {"code": "rectified", "evidence_refs": [{}]}, BadDisposition, "needs a uri"),
        ("return", {"reason_code": "bored"}, BadDisposition, "use one of wrong_region"),
        ("escalate", {}, BadDisposition, "case_ref is required"),
        ("claim", {"lease_s": 5}, BadDisposition, "lease_s must be a whole number from 60"),
        ("request_extension", {"days": 2}, BadDisposition, "reason is required"),
        ("label", {"add": ["has space"]}, BadDisposition, "must be a list of labels"),
        ("dismiss", {"code": "rectified"}, BadDisposition, "use one of duplicate"),
        ("fly", {}, BadDisposition, "unknown action 'fly'"),
    ],
)
def test_bad_arguments_are_refused_naming_the_field(
    action: str, args: dict, error: type[Exception], message: str
) -> None:
    clue = _clue(due_ms=ms_of(2026, 3, 23))
    with pytest.raises(error, match=message):
        actions.prepare(action, _ctx(clue, ALICE), args)


def test_dispatching_outside_ones_scope_is_forbidden() -> None:
    lead = Principal("l", "supervisor", ("market-supervision",), None)
    with pytest.raises(Forbidden, match="cannot route clues to 'housing'"):
        actions.prepare("dispatch", _ctx(_clue(), lead), {"department": "housing"})


def test_clue_reads_back_from_its_hash_fields() -> None:
    h = {
        "id": "clue-1",
        "fingerprint": "fp",
        "generation": "1",
        "status": "claimed",
        "rule_id": "r",
        "rule_version": "3",
        "severity": "high",
        "title": "t",
        "key": "k",
        "region": "330106",
        "department": "d",
        "first_seen_ms": "1772414100000",
        "last_seen_ms": "1772414160000",
        "warning_count": "4",
        "version": "9",
        "value": "",
        "evidence_refs": '[{"uri":"file:\\/\\/\\/a.pdf"}]',
        "labels": '["urgent"]',
        "sla": '{"dispose_days":15}',
        "claimed_by": "alice",
        "lease_expires_ms": "1772415900000",
        "unknown_field": "ignored",
    }
    clue = Clue.from_hash(h)
    assert (clue.status, clue.warning_count, clue.value) == ("claimed", 4, None)
    assert clue.evidence_refs == ({"uri": "file:///a.pdf"},) and clue.labels == ("urgent",)
    assert clue.sla == {"dispose_days": 15} and clue.lease_expires_ms == 1772415900000
    assert clue.to_dict()["labels"] == ["urgent"]
    assert set(STATUSES) >= {clue.status}
