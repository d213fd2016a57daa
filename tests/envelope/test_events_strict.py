"""The envelope is strict: a timestamp is ISO 8601 with its offset and nothing in between,
and the fields that become clue scopes and metric labels are text. Anything else is a bad
event whose reason says what to write instead (the worker dead-letters it with that reason)."""

from __future__ import annotations

from typing import Any

import pytest

from envelope.events import Event, InvalidEvent, parse_ts_ms

GOOD = {
    "id": "evt-1",
    "type": "application.submitted",
    "stream": "service",
    "ts": "2026-03-09T10:00:00+08:00",
    "source": "portal",
    "region": "330102",
    "department": "market-supervision",
    "entity": {"kind": "citizen", "id": "cit-1"},
}


@pytest.mark.parametrize(
    "ts",
    [
        "2026-03-09T10:00:00+08:00",
        "2026-03-09T02:00:00Z",
        "2026-03-09 10:00:00+08:00",
        "2026-03-09T10:00:00.250+08:00",
        "2026-03-09T10:00+08:00",
    ],
)
def test_iso_timestamps_with_an_offset_are_read(ts: str) -> None:
    assert parse_ts_ms(ts) // 60_000 == 1773021600000 // 60_000


@pytest.mark.parametrize(
    ("ts", "says"),
    [
        ("2026-03-09T10:00:00 +08:00", "not ISO 8601"),  # a space before the offset
        ("2026-03-09T10:00:00+08:00 ", "not ISO 8601"),
        ("2026-03-09T10:00:00+0800", "not ISO 8601"),
        ("09/03/2026 10:00", "not ISO 8601"),
        ("2026-03-09T10:00:00", "needs a UTC offset"),
        (1773021600000, "must be an ISO 8601 string"),
    ],
)
def test_other_timestamps_are_bad_events_that_say_why(ts: Any, says: str) -> None:
    with pytest.raises(InvalidEvent, match=says):
        Event.from_dict({**GOOD, "ts": ts})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("region", {"code": "330102"}),
        ("region", 330102),
        ("department", ["a"]),
        ("entity", {"kind": "citizen", "id": 5}),
        ("entity", {"kind": ["citizen"], "id": "cit-1"}),
    ],
)
def test_scope_fields_must_be_text(field: str, value: Any) -> None:
    with pytest.raises(InvalidEvent, match="must be a (non-empty )?string"):
        Event.from_dict({**GOOD, field: value})
    assert Event.from_dict(GOOD).region == "330102"


@pytest.mark.parametrize(
    ("ts", "says"),
    [
        ("2026-02-30T10:00:00+08:00", "not ISO 8601"),  # no such day
        ("2026-03-09T10:00:00+24:00", "not ISO 8601"),  # no such offset
        ("2026-03-09T10:00:00.1234567+08:00", "not ISO 8601"),  # finer than microseconds
        ("1773021600000", "not ISO 8601"),  # epoch milliseconds as text
        ("2026-03-09T10:00:00+08", "not ISO 8601"),
    ],
)
def test_timestamps_a_lenient_parser_would_take_are_bad_events(ts: str, says: str) -> None:
    with pytest.raises(InvalidEvent, match=says):
        Event.from_dict({**GOOD, "ts": ts})


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("region", "Xihu District", "field 'region' must be a division code of digits"),
        ("region", "３３０１０２", "field 'region' must be a division code of digits"),
        ("region", "330102 ", "field 'region' must be a division code of digits"),
        ("department", " market-supervision", "field 'department' must not start or end"),
        ("source", "portal\n", "field 'source' must not start or end"),
        ("type", "application.", "dotted domain.action"),
        ("type", ".submitted", "dotted domain.action"),
        ("type", "application submitted.x", "dotted domain.action"),
        ("entity", {"kind": "citizen", "id": "  "}, "field 'entity.id' must be a non-empty"),
    ],
)
def test_fields_that_become_scopes_labels_or_keys_must_be_clean(
    field: str, value: Any, says: str
) -> None:
    with pytest.raises(InvalidEvent, match=says):
        Event.from_dict({**GOOD, field: value})


def test_an_unknown_region_may_be_empty_and_a_reason_shows_only_an_excerpt() -> None:
    assert Event.from_dict({**GOOD, "region": ""}).region == ""
    with pytest.raises(InvalidEvent) as err:
        Event.from_dict({**GOOD, "region": {"code": "330102" * 1000}})
    assert len(str(err.value)) < 120 and "chars)" in str(err.value)
