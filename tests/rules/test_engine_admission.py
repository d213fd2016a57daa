"""What an engine takes: event time within bounds of the wall clock and of its watermark, and
every event id applied once. Literal times throughout; the wall clock is an argument."""

from __future__ import annotations

from typing import Any

import pytest

from envelope.events import Event, RiskWarning
from envelope.time import DAY_MS
from rules import RuleSet
from rules.engine.admission import SEEN_BUCKET_MS, Bounds, reach_ms
from rules.engine.engine import Engine
from rules.engine.watermark import InputClock, admit_held
from rules.language.model import parse_rule

NOW = 1772586000000  # 2026-03-04T09:00:00+08:00: the wall clock of these tests
MIN = 60_000
HOUR = 3_600_000
LATENESS = 5 * MIN

BULK = """\
id: bulk
title: three reads by one account within an hour
type: threshold
match: {type: data.access}
group_by: [attrs.account]
window: 1h
condition: {gte: 3}
"""
OVERDUE = """\
id: overdue
title: accepted, not decided within an hour
type: absence
group_by: [attrs.app]
anchor: {type: app.accepted}
fulfilled_by: {type: app.decided}
deadline: {after: 1h}
"""


def ruleset() -> RuleSet:
    return RuleSet([parse_rule(BULK, "bulk.yaml"), parse_rule(OVERDUE, "overdue.yaml")])


def engine(**bounds: Any) -> Engine:
    return Engine(ruleset(), lateness_ms=LATENESS, bounds=Bounds(**bounds))


def event(event_id: str, ts: str | int, etype: str = "data.access", **attrs: Any) -> Event:
    """An event with its time as written (text) or as epoch ms."""
    text = ts if isinstance(ts, str) else None
    if text is None:
        from envelope.time import iso

        text = iso(int(ts))
    return Event.from_dict(
        {
            "id": event_id,
            "type": etype,
            "stream": "service",
            "ts": text,
            "source": "test",
            "region": "330106",
            "department": "d",
            "entity": {"kind": "staff", "id": "stf-1"},
            "attrs": attrs or {"account": "stf-1"},
        }
    )


def offer(eng: Engine, ev: Event, now_ms: int = NOW) -> tuple[str, list[RiskWarning]]:
    """What the worker and the backtest do with each event: admit, then apply."""
    admission = eng.admit(ev, now_ms)
    return admission.kind, eng.process(ev) if admission.ok else []


def started() -> Engine:
    """An engine that has seen an app accepted and two reads, at NOW."""
    eng = engine()
    offer(eng, event("acc", NOW - 30 * MIN, "app.accepted", app="A-1"))
    offer(eng, event("r1", NOW - MIN))
    offer(eng, event("r2", NOW))
    return eng


@pytest.mark.parametrize(
    ("ts", "kind", "reason"),
    [
        (
            "2099-01-01T00:00:00+08:00",
            "future",
            "too far in the future: 2099-01-01T00:00:00+08:00 is more than 1d ahead of the "
            "wall clock",
        ),
        (
            "9999-12-31T23:59:59Z",
            "future",
            "too far in the future: 9999-12-31T23:59:59Z is more than 1d ahead of the wall clock",
        ),
        (
            "9999-12-31T23:59:59+08:00",
            "future",
            "too far in the future: 9999-12-31T23:59:59+08:00 is more than 1d ahead of the "
            "wall clock",
        ),
        (
            "1900-01-01T00:00:00+08:00",
            "too_old",
            "too old: 1900-01-01T00:00:00+08:00 is more than 400d before the wall clock",
        ),
    ],
)
def test_an_event_far_from_the_wall_clock_is_refused_and_moves_nothing(
    ts: str, kind: str, reason: str
) -> None:
    eng = started()
    before = (eng.watermark_ms, eng.max_ts_ms, eng.state_of("bulk", "stf-1"))
    admission = eng.admit(event("far", ts), NOW)
    assert (admission.kind, admission.reason) == (kind, reason)
    # the third read would make 'bulk' fire, and a watermark in 2099 would fire 'overdue'
    assert offer(eng, event("far", ts)) == (kind, [])
    assert (eng.watermark_ms, eng.max_ts_ms, eng.state_of("bulk", "stf-1")) == before
    assert offer(eng, event("r3", NOW))[1] != []  # the engine carries on as before


def test_exactly_at_a_wall_clock_bound_is_inside_it() -> None:
    eng = engine(max_future_ms=DAY_MS, max_age_ms=400 * DAY_MS)
    assert eng.admit(event("f0", NOW + DAY_MS), NOW).kind == "ok"
    assert eng.admit(event("f1", NOW + DAY_MS + 1), NOW).kind == "future"
    assert eng.admit(event("o0", NOW - 400 * DAY_MS), NOW).kind == "ok"
    assert eng.admit(event("o1", NOW - 400 * DAY_MS - 1), NOW).kind == "too_old"
    tight = engine(max_future_ms=0, max_age_ms=HOUR)
    assert tight.admit(event("n", NOW + 1), NOW).reason.endswith(
        "more than 0s ahead of the wall clock"
    )
    assert tight.admit(event("h", NOW - HOUR - 1), NOW).reason.endswith(
        "more than 1h before the wall clock"
    )


def test_the_bounds_follow_the_wall_clock_given_not_the_engines_time() -> None:
    eng = started()
    assert eng.admit(event("x", "2099-01-01T00:00:00+08:00"), NOW).kind == "future"
    assert eng.admit(event("x", "2099-01-01T00:00:00+08:00"), 4070880000000).kind == "ok"


def test_an_event_later_than_the_lateness_allows_is_refused_and_not_applied() -> None:
    eng = started()  # newest event at NOW: the watermark is NOW - 5 min
    assert eng.watermark_ms == NOW - LATENESS
    before = (eng.watermark_ms, eng.max_ts_ms, eng.state_of("bulk", "stf-1"))
    late = event("late", NOW - 10 * MIN)  # 10 min behind the newest event, 5 behind the watermark
    admission = eng.admit(late, NOW)
    assert admission.kind == "too_late"
    assert admission.reason == (
        "too late by 5m: 2026-03-04T08:50:00+08:00 is before the watermark "
        "2026-03-04T08:55:00+08:00 (lateness 5m)"
    )
    assert offer(eng, late) == ("too_late", [])  # applied, it would have been the third read
    assert (eng.watermark_ms, eng.max_ts_ms, eng.state_of("bulk", "stf-1")) == before


def test_an_event_exactly_at_the_watermark_is_on_time() -> None:
    eng = started()
    kind, warnings = offer(eng, event("edge", eng.watermark_ms))
    assert kind == "ok" and [w.rule_id for w in warnings] == ["bulk"]
    assert eng.admit(event("edge2", eng.watermark_ms - 1), NOW).kind == "too_late"


def test_a_fresh_engine_takes_anything_within_the_wall_clock_bounds() -> None:
    assert engine().admit(event("first", NOW - 300 * DAY_MS), NOW).kind == "ok"


def test_the_held_path_of_the_worker_refuses_before_the_input_clock_moves() -> None:
    eng, clock = engine(), InputClock(["events.service", "events.regulatory"])
    clock.observe("events.regulatory", NOW)
    assert admit_held(eng, clock, "events.service", event("a", NOW), NOW)[0].ok
    far = event("far", "2099-01-01T00:00:00+08:00")
    admission, warnings = admit_held(eng, clock, "events.service", far, NOW)
    assert (admission.kind, warnings) == ("future", [])
    assert clock.max_ms == {"events.regulatory": NOW, "events.service": NOW}
    assert (eng.max_ts_ms, eng.watermark_ms) == (NOW, NOW - LATENESS)


# -- duplicates -------------------------------------------------------------------------


def read(event_id: str, minute: int) -> Event:
    """A read by stf-1 at NOW + ``minute``."""
    return event(event_id, NOW + minute * MIN)


def reads(*ids: str) -> list[Event]:
    return [read(i, n) for n, i in enumerate(ids)]


def warnings_of(events: list[Event]) -> list[tuple[str, str, int]]:
    eng = engine()
    out = []
    for ev in events:
        out += [(w.id, w.rule_id, w.ts_ms) for w in offer(eng, ev)[1]]
    return out


def test_the_same_event_twice_gives_the_warnings_of_once() -> None:
    # counted twice, a1 and a2 would already be three reads at a2
    once = warnings_of(reads("a1", "a2", "a3"))
    assert once and once == warnings_of([*reads("a1", "a2"), read("a1", 0), read("a3", 2)])
    assert warnings_of([*reads("a1", "a2"), read("a1", 0)]) == []
    eng = engine()
    kinds = [offer(eng, ev)[0] for ev in [*reads("a1", "a2"), read("a1", 0), read("a1", 0)]]
    assert kinds == ["ok", "ok", "duplicate", "duplicate"]
    assert eng.admit(read("a1", 0), NOW).reason == (
        "duplicate of the event at 2026-03-04T09:00:00+08:00 already applied"
    )


def test_a_redelivered_event_behind_the_watermark_is_a_duplicate_not_late() -> None:
    eng = engine()
    first = event("d1", NOW)
    offer(eng, first)
    offer(eng, event("d2", NOW + HOUR))
    assert eng.admit(first, NOW).kind == "duplicate"  # already counted: nothing is lost
    assert eng.admit(event("d3", NOW), NOW).kind == "too_late"


def test_the_default_horizon_is_the_rules_longest_reach_plus_the_lateness() -> None:
    assert reach_ms(ruleset()) == HOUR  # the bulk window; an absence deadline is not a window
    assert engine().seen.horizon_ms == HOUR + LATENESS
    assert engine(dedup_horizon_ms=0).seen.horizon_ms == 0


def test_an_id_seen_again_after_the_horizon_is_applied_again() -> None:
    eng = engine(dedup_horizon_ms=HOUR)
    offer(eng, event("x", NOW))
    assert eng.admit(event("x", NOW + 30 * MIN), NOW).kind == "duplicate"
    offer(eng, event("later", NOW + HOUR + LATENESS + 1))  # the watermark passes NOW + 1h
    assert eng.watermark_ms == NOW + HOUR + 1
    kind, _ = offer(eng, event("x", NOW + 2 * HOUR))  # the same id, reused later
    assert kind == "ok"
    assert eng.admit(event("x", NOW + 2 * HOUR), NOW).kind == "duplicate"  # remembered anew


def test_the_seen_ids_are_forgotten_as_the_watermark_passes() -> None:
    eng = engine(dedup_horizon_ms=HOUR)
    for n in range(300):  # five hours of reads, one a minute
        offer(eng, event(f"m{n}", NOW + n * MIN, account=f"stf-{n}"))
    # the watermark is at NOW + 4h54m: every id from NOW + 3h54m on is still needed; ids are
    # dropped by whole hours, so hours 0-2 are gone and hours 3 and 4 kept
    assert eng.watermark_ms == NOW + 294 * MIN
    assert len(eng.seen) == 120
    assert eng.admit(event("m234", NOW + 234 * MIN), NOW).kind == "duplicate"
    assert SEEN_BUCKET_MS == HOUR
    held = len(eng.seen)
    eng.advance_to(eng.watermark_ms + 2 * HOUR)
    assert len(eng.seen) < held
    eng.advance_to(NOW + 7 * HOUR)
    assert len(eng.seen) == 0


def test_a_restored_engine_still_skips_an_id_it_applied() -> None:
    first = engine()
    for ev in reads("a1", "a2"):
        offer(first, ev)
    saved = {k: v for k, v in first.export_dirty().items() if v is not None}
    second = engine()
    second.restore(saved.items())
    assert second.admit(read("a1", 0), NOW).kind == "duplicate"
    assert offer(second, read("a3", 2))[1] != []  # the two reads were restored too
    assert len(second.seen) == 3


def test_forgotten_hours_are_deleted_from_the_saved_state() -> None:
    eng = engine(dedup_horizon_ms=0)
    offer(eng, event("old", NOW))
    first = eng.export_dirty()
    hour_key = ("__engine__", f"seen:{NOW // SEEN_BUCKET_MS}")
    assert first[hour_key] is not None
    offer(eng, event("new", NOW + 3 * HOUR))
    assert eng.export_dirty()[hour_key] is None
