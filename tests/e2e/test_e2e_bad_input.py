"""Malformed events are dead-lettered with their reason and original bytes; the good events
around them are processed and the worker keeps going."""

from __future__ import annotations

import base64

import orjson
import pytest
from e2e_support import BAD_REGION, read_topic, send_raw, wait_for
from event_factories import make_event

from envelope.topics import TOPIC_DEADLETTER, TOPIC_SERVICE

pytestmark = [pytest.mark.integration, pytest.mark.slow]

T0 = 1772586000000  # 2026-03-04T09:00:00+08:00, inside the simulated week
MALFORMED = {
    b"{not json": "bad JSON",
    orjson.dumps({"id": "bad-1", "type": "data.access"}): "missing field",
    orjson.dumps(
        {
            "id": "bad-2",
            "type": "data.access",
            "stream": "service",
            "ts": "yesterday",
            "source": "s",
            "region": BAD_REGION,
            "department": "d",
            "entity": {"kind": "staff", "id": "stf-x"},
        }
    ): "bad timestamp",
    orjson.dumps(
        {
            "id": "bad-3",
            "type": "data.access",
            "stream": "weather",
            "ts": "2026-03-04T09:00:00+08:00",
            "source": "s",
            "region": BAD_REGION,
            "department": "d",
            "entity": {"kind": "staff", "id": "stf-x"},
        }
    ): "unknown stream",
    b"\xff\xfe binary": "bad JSON",
    make_event(
        ts_ms=T0, type="inspection.performed", stream="regulatory", region=BAD_REGION, id="bad-4"
    ).to_json(): "wrong topic: a regulatory event belongs on events.regulatory",
}


def good_reads() -> list[bytes]:
    """61 distinct citizens read by one account within an hour: a staff-bulk-access burst."""
    return [
        make_event(
            ts_ms=T0 + i * 30_000,
            type="data.access",
            region=BAD_REGION,
            id=f"bulk-{i}",
            entity=("staff", "stf-bad-input"),
            account="stf-bad-input",
            citizen=f"cit-{i}",
            dataset="household",
        ).to_json()
        for i in range(61)
    ]


def test_malformed_events_are_dead_lettered_and_good_ones_processed(stack, replayed):
    good = good_reads()
    mixed: list[bytes] = []
    bad = list(MALFORMED)
    for i, value in enumerate(good):  # a bad one after every 12 good ones
        mixed.append(value)
        if i % 12 == 5 and bad:
            mixed.append(bad.pop())
    mixed.extend(bad)
    send_raw(stack.broker.bootstrap, TOPIC_SERVICE, mixed, key=BAD_REGION.encode())

    def dead_letters():
        found = {}
        for _, v in read_topic(stack.broker.bootstrap, TOPIC_DEADLETTER, idle_ms=1000):
            rec = orjson.loads(v)
            found[base64.b64decode(rec["original_base64"])] = rec
        return found if set(MALFORMED) <= set(found) else None

    found = wait_for(dead_letters, 90, "all malformed events on events.deadletter")
    for raw, reason in MALFORMED.items():
        rec = found[raw]
        assert rec["reason"].startswith(reason), rec
        assert rec["topic"] == TOPIC_SERVICE and isinstance(rec["offset"], int)

    r = stack.redis()
    clue = wait_for(
        lambda: [
            c
            for c in r.zrange("rl:q:all", 0, -1)
            if r.hget(f"rl:clue:{c}", "key") == "stf-bad-input"
        ],
        60,
        "the good events' burst to raise a clue",
    )
    assert len(clue) == 1
    assert stack.worker.running()
