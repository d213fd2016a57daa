"""Malformed events, and events whose time is out of bounds (too far in the future, older
than the retention, later than the lateness allows), are dead-lettered with their reason and
original bytes and move no shard's event time; a redelivered event is skipped and
counted; the good events around them are processed and the worker keeps going."""

from __future__ import annotations

import base64
import time

import orjson
import pytest
from e2e_support import (
    BAD_REGION,
    PSEUDONYM_KEY,
    event_clock,
    metric_sum,
    on_time_ms,
    read_topic,
    send_raw,
    wait_for,
)
from event_factories import make_event

from envelope.pseudonym import Masker
from envelope.time import iso, show_duration
from envelope.topics import TOPIC_DEADLETTER, TOPIC_SERVICE

pytestmark = [pytest.mark.integration, pytest.mark.slow]

T0 = 1772586000000  # 2026-03-04T09:00:00+08:00, inside the simulated week
ACCOUNT = "stf-bad-input"  # the rule key of the good reads (staff-bulk-access)
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


def good_reads(start_ms: int) -> list[bytes]:
    """61 distinct citizens read by one account within 4 minutes: a staff-bulk-access burst."""
    return [
        make_event(
            ts_ms=start_ms + i * 4000,
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


AHEAD = "is more than 1d ahead of the wall clock"


def out_of_bounds(late_ms: int) -> dict[bytes, str]:
    """Events the worker must refuse by their time, and the start of each one's reason."""

    def read(event_id: str, ts: str) -> bytes:
        ev = make_event(
            ts_ms=T0, type="data.access", region=BAD_REGION, id=event_id, account="stf-bad-input"
        )
        return ev.to_json().replace(ev.ts.encode(), ts.encode())

    future = "too far in the future: "
    return {
        read("far-1", "2099-01-01T00:00:00+08:00"): f"{future}2099-01-01T00:00:00+08:00 {AHEAD}",
        read("far-2", "9999-12-31T23:59:59Z"): f"{future}9999-12-31T23:59:59Z {AHEAD}",
        read("old-1", "1900-01-01T00:00:00+08:00"): "too old: 1900-01-01T00:00:00+08:00 is more",
        read("late-1", iso(T0)): f"too late by {show_duration(late_ms)}: ",
    }


def test_malformed_events_are_dead_lettered_and_good_ones_processed(stack, replayed):
    url = stack.worker.url
    start = on_time_ms(url, ACCOUNT, span_ms=61 * 4000)
    watermark, newest = event_clock(url, ACCOUNT)
    refused = out_of_bounds(watermark - T0)  # T0, inside the week, is behind the watermark
    counts = {
        "late": lambda: metric_sum(url, "riskloop_late_events_total"),
        "duplicate": lambda: metric_sum(url, "riskloop_duplicate_events_total"),
        **{
            kind: lambda kind=kind: metric_sum(url, "riskloop_deadletters_total", reason=kind)
            for kind in ("future", "too_old", "too_late")
        },
    }
    before = {name: count() for name, count in counts.items()}
    good = good_reads(start)
    good.insert(30, good[12])  # a producer's retry: the same event twice
    mixed: list[bytes] = []
    bad = list(MALFORMED) + list(refused)
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
        return found if set(MALFORMED) | set(refused) <= set(found) else None

    found = wait_for(dead_letters, 90, "all malformed events on events.deadletter")
    for raw, reason in (MALFORMED | refused).items():
        rec = found[raw]
        assert rec["reason"].startswith(reason), rec
        assert rec["topic"] == TOPIC_SERVICE and isinstance(rec["offset"], int)
    dead = [orjson.loads(v) for _, v in read_topic(stack.broker.bootstrap, TOPIC_DEADLETTER)]
    originals = [base64.b64decode(rec["original_base64"]) for rec in dead]
    assert all(originals.count(raw) == 1 for raw in refused), "each refused event once"
    assert not set(good) & set(originals), "no good event (nor the retry) is a dead letter"
    want = {"late": 1, "duplicate": 1, "future": 2, "too_old": 1, "too_late": 1}
    wait_for(
        lambda: {name: count() - before[name] for name, count in counts.items()} == want,
        30,
        "the retry counted as a duplicate, and each refusal by its kind",
    )
    time.sleep(2)  # the watermark gauges are set once a second
    assert event_clock(url, ACCOUNT) == (watermark, newest), "event time did not move"

    r = stack.redis()
    pseudonym = Masker(PSEUDONYM_KEY.encode()).pseudonym(ACCOUNT)  # the clue names nobody
    clue = wait_for(
        lambda: [
            c for c in r.zrange("rl:q:all", 0, -1) if r.hget(f"rl:clue:{c}", "key") == pseudonym
        ],
        60,
        "the good events' burst to raise a clue",
    )
    assert len(clue) == 1
    assert stack.worker.running()
