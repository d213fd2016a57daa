"""Routed events cross the repartition topic as their fields and come back unchanged."""

from __future__ import annotations

import pytest

from envelope.build import EventMaker
from streams.shuffle import (
    EVENT,
    InvalidShuffle,
    Record,
    decode,
    encode,
    event_fields,
    routed_event,
)


def _through_topic(body: object) -> object:
    return decode(encode(Record(items=[[EVENT, "space", "source", body, 1, 0]]))).items[0][3]


def test_an_event_comes_back_equal_with_its_attributes() -> None:
    ev = EventMaker()(ts_ms=1772414100000, type="data.access", account="stf-9", rows=12)
    assert routed_event(_through_topic(event_fields(ev))) == ev


def test_an_envelope_body_of_an_older_record_is_still_read() -> None:
    ev = EventMaker()(ts_ms=1772414100000, type="data.access", account="stf-9")
    assert routed_event(_through_topic(ev.to_dict())) == ev


@pytest.mark.parametrize(
    "mangle",
    [lambda b: b[:-1], lambda b: [*b[:4], str(b[4]), *b[5:]], lambda b: [*b[:-1], "x"]],
    ids=["a field missing", "time as text", "attrs not an object"],
)
def test_a_mangled_body_is_refused_with_a_reason(mangle: object) -> None:
    ev = EventMaker()(ts_ms=1772414100000, type="data.access", account="stf-9")
    body = mangle(list(event_fields(ev)))  # type: ignore[operator]
    with pytest.raises(InvalidShuffle, match="not a routed event"):
        routed_event(_through_topic(body))
