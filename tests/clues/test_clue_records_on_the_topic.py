"""The two kinds of record on ``clue.dispositions``: round trips and telling them apart."""

from __future__ import annotations

import orjson
import pytest

from envelope.events import ClueTransition, Disposition, parse_clue_record, transition_id

T0 = 1_772_414_100_000  # 2026-03-02T01:15:00Z
CLAIM = ClueTransition(
    id=transition_id("clue-1", 3),
    clue_id="clue-1",
    rule_id="approval.overdue",
    action="claim",
    from_status="dispatched",
    to_status="claimed",
    actor="alice",
    role="inspector",
    ts_ms=T0,
    reason="",
    version=3,
    before={"status": "dispatched", "claimed_by": ""},
    after={"status": "claimed", "claimed_by": "alice"},
)
VERDICT = Disposition("disp-1", "clue-1", "approval.overdue", "k", "dismissed", "duplicate",
                      "alice", T0, ("w1",))  # fmt: skip


def test_each_record_names_its_kind_and_parses_back_to_itself() -> None:
    assert orjson.loads(CLAIM.to_json())["kind"] == "transition"
    assert orjson.loads(VERDICT.to_json())["kind"] == "disposition"
    assert ClueTransition.from_json(CLAIM.to_json()) == CLAIM
    assert Disposition.from_json(VERDICT.to_json()) == VERDICT
    assert parse_clue_record(CLAIM.to_json()) == CLAIM
    assert parse_clue_record(VERDICT.to_json()) == VERDICT


def test_a_disposition_without_a_kind_is_an_older_verdict() -> None:
    old = {k: v for k, v in VERDICT.to_dict().items() if k != "kind"}

    assert parse_clue_record(orjson.dumps(old)) == VERDICT
    assert Disposition.from_json(orjson.dumps(old)) == VERDICT


def test_one_kind_is_never_read_as_the_other() -> None:
    with pytest.raises(ValueError, match="is a 'transition', not a 'disposition'"):
        Disposition.from_json(CLAIM.to_json())
    no_kind = {k: v for k, v in CLAIM.to_dict().items() if k != "kind"}
    with pytest.raises(ValueError, match="has no kind: not a clue transition"):
        ClueTransition.from_json(orjson.dumps(no_kind))
    with pytest.raises(ValueError, match="is a 'disposition', not a 'transition'"):
        ClueTransition.from_json(VERDICT.to_json())
    with pytest.raises(ValueError, match="is a 'comment', not a 'disposition'"):
        parse_clue_record(orjson.dumps({**VERDICT.to_dict(), "kind": "comment"}))


def test_the_lua_encoding_of_a_step_parses_exactly() -> None:
    """Redis' cjson writes the numbers as numbers and escapes slashes; an empty map is {}."""
    raw = (
        b'{"actor":"sam","action":"label","to_status":"claimed","id":"clue-1@v12",'
        b'"clue_id":"clue-1","reason":"+food","from_status":"claimed","role":"supervisor",'
        b'"version":12,"ts_ms":1772414100000,"after":{"labels":"[\\"food\\"]"},'
        b'"kind":"transition","before":{"labels":""},"rule_id":"r\\/x"}'
    )

    t = parse_clue_record(raw)

    assert isinstance(t, ClueTransition)
    assert (t.id, t.version, t.ts_ms, t.rule_id) == (transition_id("clue-1", 12), 12, T0, "r/x")
    assert (t.before, t.after) == ({"labels": ""}, {"labels": '["food"]'})
