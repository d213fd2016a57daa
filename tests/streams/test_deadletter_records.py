"""A dead letter keeps the original bytes (needed to fix the producer) but its reason shows
only a short, masked excerpt of a bad value, a big record is not copied twice, and no dead
letter is larger than a broker with default settings accepts."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging

import orjson
import pytest
from pipeline import Pipeline, Record
from test_clue_sink_records import Topics, sink_step

from envelope.events import Event, InvalidEvent
from envelope.topics import TOPIC_SERVICE
from rules import RuleSet
from streams.emit import TEXT_COPY_MAX, Emitter

MIB = 1024 * 1024  # a broker's default message.max.bytes is 1 MiB and a little framing

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


def test_a_1_mib_bad_record_makes_a_dead_letter_under_1_mib_that_says_what_it_kept() -> None:
    raw = orjson.dumps({**GOOD, "type": "y" * MIB})
    t = Topics()
    asyncio.run(Emitter(t).deadletter(Record(TOPIC_SERVICE, 0, 7, raw), "type too long"))  # type: ignore[arg-type]
    [(_, sent)] = t.deadletter.sent
    dead = orjson.loads(sent)
    kept = base64.b64decode(str(dead["original_base64"]))

    assert len(sent) + len(b"k") < 1_000_000 < MIB  # the key of the fake record is b"k"
    assert dead["original_truncated"] is True and dead["original"] is None
    assert dead["original_size"] == len(raw) and len(kept) > 700_000
    assert raw.startswith(kept)
    assert dead["original_sha256"] == hashlib.sha256(raw).hexdigest()


def test_a_huge_producer_key_is_named_by_its_size_and_hash_not_copied() -> None:
    raw, key = orjson.dumps({**GOOD, "type": "y" * MIB}), b"K" * 500_000
    record = Record(TOPIC_SERVICE, 0, 7, raw)
    record.message.key = key
    t = Topics()
    asyncio.run(Emitter(t).deadletter(record, "type too long"))  # type: ignore[arg-type]
    [(_, sent)] = t.deadletter.sent
    dead = orjson.loads(sent)

    assert len(sent) < 1_000_000 and len(base64.b64decode(str(dead["original_base64"]))) > 700_000
    assert (dead["key_size"], dead["key_sha256"]) == (len(key), hashlib.sha256(key).hexdigest())
    assert t.deadletter.keys == [None]


def test_a_record_that_fits_is_kept_whole_with_its_size_and_hash() -> None:
    raw = orjson.dumps({**GOOD, "type": "x" * 600_000})
    dead = dead_letter_of(raw)
    assert base64.b64decode(str(dead["original_base64"])) == raw
    assert dead["original_truncated"] is False and dead["original_size"] == len(raw)


def test_phone_and_id_numbers_in_a_bad_value_are_masked_in_the_reason() -> None:
    raw = orjson.dumps({**GOOD, "stream": "13812345678 110101199003077777"})
    dead = dead_letter_of(raw)
    assert dead["reason"].startswith("unknown stream '<phone> <ID number>'")
    assert "13812345678" not in dead["reason"] and "110101199003077777" not in dead["reason"]
    assert base64.b64decode(str(dead["original_base64"])) == raw  # the bytes are kept as sent


def test_a_bad_warning_with_a_huge_field_has_a_short_reason() -> None:
    fields = {"id": "w", "fingerprint": "f", "rule_version": 1, "logic_hash": "h", "ts_ms": 1}
    text = {name: "t" for name in ("severity", "title", "key", "region", "department")}
    huge = {"rule_id": ["13812345678" + "z" * 200_000]}
    value = orjson.dumps({**fields, **text, **huge})
    _, [dead] = sink_step([value])
    assert str(dead["reason"]).startswith("not a risk warning: ValueError: rule_id must be text")
    assert len(str(dead["reason"])) < 400 and "13812345678" not in str(dead["reason"])


def test_50_events_with_a_200_kb_type_log_50_short_lines(caplog: pytest.LogCaptureFixture) -> None:
    pipe = Pipeline(RuleSet([]))
    caplog.set_level(logging.WARNING, logger="riskloop.worker")
    for i in range(50):
        pipe.send(TOPIC_SERVICE, orjson.dumps({**GOOD, "id": f"e{i}", "type": "t" * 200_000}))
    pipe.flush()

    lines = [r.getMessage() for r in caplog.records if r.name == "riskloop.worker"]
    assert len(lines) == 50 and all(len(line) < 400 for line in lines)
    assert len(pipe.dead_letters) == 50 and all(
        len(str(d["reason"])) < 120 for d in pipe.dead_letters
    )
