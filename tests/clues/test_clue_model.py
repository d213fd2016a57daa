"""The pure parts of the clue queue: state machine, ids, codes, records, cursors, metrics."""

from __future__ import annotations

import doctest

import pytest
from prometheus_client import REGISTRY

import clues.keys
import clues.model
from clues import metrics, scripts
from clues.model import (
    DISPOSITION_CODES,
    TRANSITIONS,
    Clue,
    IllegalTransition,
    UnknownDispositionCode,
    check_transition,
    clue_id,
    outcome_of,
)
from clues.store import InvalidCursor, decode_cursor, encode_cursor


@pytest.mark.parametrize("module", [clues.model, clues.keys])
def test_docstring_examples_hold(module: object) -> None:
    result = doctest.testmod(module)  # type: ignore[arg-type]
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize(
    ("action", "status", "target"),
    [("claim", "new", "claimed"), ("expire", "claimed", "new"), ("dispose", "claimed", "disposed")],
)
def test_legal_transitions_reach_their_target(action: str, status: str, target: str) -> None:
    assert check_transition(action, status) == target


@pytest.mark.parametrize(
    ("action", "status"),
    [("claim", "claimed"), ("claim", "disposed"), ("dispose", "new"), ("dispose", "disposed")],
)
def test_illegal_transitions_are_refused_naming_the_allowed_sources(
    action: str, status: str
) -> None:
    with pytest.raises(IllegalTransition, match=f"cannot {action} a clue that is {status}") as e:
        check_transition(action, status)
    assert e.value.status == status
    assert "allowed from: " + ", ".join(TRANSITIONS[action].sources) in str(e.value)


def test_lua_scripts_carry_the_transition_table() -> None:
    assert "['claim']={['new']=true}" in scripts.PRELUDE
    assert "['dispose']={['claimed']=true}" in scripts.PRELUDE
    assert "local OPEN = {['new']=true, ['claimed']=true}" in scripts.PRELUDE


def test_clue_ids_are_deterministic_per_fingerprint_and_generation() -> None:
    assert clue_id("fp-1") == clue_id("fp-1", 0) == "clue-316e2296dc2206084d37"
    assert len({clue_id("fp-1", g) for g in range(5)} | {clue_id("fp-2")}) == 6


def test_every_disposition_code_maps_to_a_published_outcome() -> None:
    assert set(DISPOSITION_CODES.values()) == {"confirmed", "dismissed"}
    assert outcome_of("confirmed_violation") == "confirmed"
    assert outcome_of("not_applicable") == "dismissed"
    with pytest.raises(UnknownDispositionCode, match="use one of confirmed_violation, rectified"):
        outcome_of("closed")


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
        "version": "7",
        "value": "2.5",
        "evidence": '["evt-1","evt-2"]',
        "claimed_by": "alice",
        "lease_expires_ms": "1772415900000",
        "previous_clue_id": "",
    }

    clue = Clue.from_hash(h)

    assert (clue.generation, clue.warning_count, clue.value) == (1, 4, 2.5)
    assert clue.evidence == ("evt-1", "evt-2") and clue.tags == ()
    assert (clue.claimed_by, clue.lease_expires_ms) == ("alice", 1772415900000)
    assert clue.previous_clue_id is None and clue.disposed_ms is None
    assert clue.to_dict()["evidence"] == ["evt-1", "evt-2"]


def test_cursor_round_trips_and_rejects_garbage() -> None:
    cursor = encode_cursor(-1772414100000.0, "clue-abc")

    assert decode_cursor(cursor) == (-1772414100000.0, "clue-abc")
    with pytest.raises(InvalidCursor, match="bad cursor 'zz'"):
        decode_cursor("zz")


def test_record_upserts_counts_each_result() -> None:
    def value(result: str) -> float:
        v = REGISTRY.get_sample_value("riskloop_clue_upserts_total", {"result": result})
        return v or 0.0

    before = {r: value(r) for r in ("new", "merged", "duplicate")}

    metrics.record_upserts(["new", "merged", "merged", "duplicate", "merged"])

    assert {r: value(r) - before[r] for r in before} == {"new": 1, "merged": 3, "duplicate": 1}
