"""A dead letter keeps the original bytes (needed to fix the producer) but its reason shows
only a short excerpt of a bad value, and a big record is not copied twice."""

from __future__ import annotations

import asyncio
import base64

import orjson
from pipeline import Record
from test_clue_sink_records import Topics

from envelope.events import Event, InvalidEvent
from envelope.topics import TOPIC_SERVICE
from streams.emit import TEXT_COPY_MAX, Emitter

GOOD = {
    "id": "e1", "type": "a.b", "stream": "service", "ts": "2026-03-02T09:15:00+08:00",
    "source": "s", "region": "330106", "department": "d", "entity": {"kind": "c", "id": "1"},
}  # fmt: skip


def dead_letter_of(raw: bytes) -> dict[str, object]:
    try:
        Event.from_json(raw)
    except InvalidEvent as exc:
        reason = str(exc)
    t = Topics()
    asyncio.run(Emitter(t).deadletter(Record(TOPIC_SERVICE, 0, 7, raw), reason))  # type: ignore[arg-type]
    [(_, sent)] = t.deadletter.sent
    return orjson.loads(sent)


def test_a_huge_bad_value_shows_as_a_short_excerpt_and_the_bytes_are_kept_once() -> None:
    raw = orjson.dumps({**GOOD, "type": "x" * 200_000})
    dead = dead_letter_of(raw)
    assert str(dead["reason"]).startswith("type 'xxxx") and "(200002 chars)" in str(dead["reason"])
    assert len(str(dead["reason"])) < 120
    assert base64.b64decode(str(dead["original_base64"])) == raw
    assert dead["original"] is None and len(raw) > TEXT_COPY_MAX


def test_a_small_bad_record_is_also_kept_as_text() -> None:
    raw = orjson.dumps({**GOOD, "region": {"code": "330102"}})
    dead = dead_letter_of(raw)
    assert dead["reason"] == "field 'region' must be a string, got {'code': '330102'}"
    assert dead["original"] == raw.decode()
