"""Windowed rules a rule author can trust: "fewer than" waits for a whole window, a steady
rate at the threshold is one episode, arrival order within the lateness does not change
the answer, and a resolution is never dated before the warning it resolves."""

import pickle

from hypothesis import given, settings
from hypothesis import strategies as st
from rule_factories import HOUR, MIN, SEC, T0, engine, ev, feed

from rules.engine.admission import OK
from rules.engine.engine import ENGINE_KEY, SUP


def threshold(condition: str, window: str, aggregate: str = "count", extra: str = "") -> str:
    return (
        "id: th\ntitle: t\ntype: threshold\nmatch: {type: a.b}\ngroup_by: [attrs.k]\n"
        f"window: {window}\naggregate: {aggregate}\ncondition: {condition}\n{extra}"
    )


def beat(ts_ms: int, k: str = "x", **attrs: object):
    return ev(ts_ms, "a.b", k=k, **attrs)


def stages(warnings, t0: int = T0) -> list[tuple[str, int, float | None]]:
    return [(w.stage, (w.ts_ms - t0) // SEC, w.value) for w in warnings]


# --- 1. "fewer than" is judged once the key has been watched for a whole window ----------

FLATLINE = threshold("{lt: 2}", "30s")


def test_a_flatline_does_not_fire_on_a_keys_first_event():
    eng = engine(FLATLINE)
    assert eng.process(beat(T0)) == []
    assert eng.process(beat(T0 + 10 * SEC)) == []


def test_a_steady_beat_never_flatlines_and_a_stop_fires_once_when_the_count_dips():
    eng = engine(FLATLINE)
    out = feed(eng, [beat(T0 + i * 10 * SEC) for i in range(10)])  # last one at +90s
    assert out == []
    # +110s: the beat of +80s leaves, one left (< 2): fires; then zero, same episode
    out = eng.advance_to(T0 + 10 * MIN)
    assert stages(out) == [("fired", 110, 1.0)]


def test_a_key_seen_once_fires_at_zero_after_a_whole_window():
    eng = engine(FLATLINE)
    eng.process(beat(T0))
    assert stages(eng.advance_to(T0 + HOUR)) == [("fired", 30, 0.0)]
    assert eng.key_count() == 1  # the open episode stays while the key is silent


def test_a_flatline_resolves_when_the_events_come_back():
    eng = engine(FLATLINE + "resolve: {on: cleared}\n")
    eng.process(beat(T0))
    assert stages(eng.advance_to(T0 + 5 * MIN)) == [("fired", 30, 0.0)]
    out = feed(eng, [beat(T0 + 6 * MIN), beat(T0 + 6 * MIN + SEC)])
    assert stages(out) == [("resolved", 361, 2.0)]


def test_a_cardinality_minimum_waits_a_window_then_fires_when_distinct_values_dip():
    eng = engine(threshold("{lt: 4}", "10m", "{distinct: attrs.c}"))
    warm = [beat(T0 + i * MIN, c=f"c{i % 5}") for i in range(15)]  # five values a window
    assert feed(eng, warm) == []
    narrow = [beat(T0 + (15 + i) * MIN, c=f"c{i % 2}") for i in range(20)]
    out = feed(eng, narrow)
    # the last c2, c3, c4 (at +12m, +13m, +14m) leave at +22m, +23m, +24m: three values left
    # at +23m
    assert stages(out) == [("fired", 23 * 60, 3.0)]


def test_min_events_one_keeps_a_fewer_than_rule_quiet_on_an_emptied_window():
    eng = engine(FLATLINE + "min_events: 1\n")
    eng.process(beat(T0))
    assert eng.advance_to(T0 + HOUR) == []
    assert eng.key_count() == 0


# --- 2. a steady rate exactly at the threshold is one episode ----------------------------

STEADY = threshold("{gte: 3}", "3m")


def test_a_steady_rate_at_the_threshold_is_one_episode_with_or_without_resolve():
    for extra in ("", "resolve: {on: cleared}\n"):
        for lateness in (0, 5 * MIN):
            eng = engine(STEADY + extra, lateness_ms=lateness)
            out = feed(eng, [beat(T0 + i * MIN) for i in range(8)])
            assert stages(out) == [("fired", 120, 3.0)], (extra, lateness)


def test_the_number_of_warnings_does_not_depend_on_resolve():
    times = [0, 1, 2, 3, 4, 10, 11, 12, 12.5, 13, 30]
    counts = []
    for extra in ("", "resolve: {on: cleared}\n"):
        eng = engine(STEADY + extra)
        out = feed(eng, [beat(T0 + int(t * MIN)) for t in times]) + eng.advance_to(T0 + HOUR)
        counts.append(sum(w.stage == "fired" for w in out))
    assert counts == [2, 2]


def test_a_watermark_at_the_instant_an_event_leaves_does_not_close_the_episode_first():
    """The watermark reaches +3m exactly, where the first event leaves; the event of +3m
    arrives next (allowed: it is not before the watermark). One episode."""
    eng = engine(STEADY + "resolve: {on: cleared}\n", lateness_ms=10 * MIN)
    out = feed(eng, [beat(T0 + i * MIN) for i in range(3)])
    out += eng.advance_to(T0 + 3 * MIN)
    assert eng.admit(beat(T0 + 3 * MIN), now_ms=T0 + HOUR).kind == OK
    out += eng.process(beat(T0 + 3 * MIN))
    assert stages(out) == [("fired", 120, 3.0)]


# --- 3. arrival order within the lateness does not change the answer ---------------------

LATE_RULE = threshold("{gte: 3}", "10m")


def test_a_late_event_fires_at_its_own_time_as_the_sorted_order_does():
    minutes_in_order = [0, 5, 16, 8]  # 10:08 arrives after 10:16, 8 minutes late
    answers = []
    for minutes in (minutes_in_order, sorted(minutes_in_order)):
        eng = engine(LATE_RULE, lateness_ms=10 * MIN)
        events = [beat(T0 + m * MIN) for m in minutes]
        answers.append([(w.id, w.ts_ms, w.value) for w in feed(eng, events)])
    assert answers[0] == answers[1] == [(answers[1][0][0], T0 + 8 * MIN, 3.0)]


def test_a_late_event_that_only_prolongs_an_episode_fires_nothing_new():
    eng = engine(LATE_RULE, lateness_ms=10 * MIN)
    out = feed(eng, [beat(T0), beat(T0 + MIN), beat(T0 + 2 * MIN), beat(T0 + 4 * MIN)])
    assert stages(out) == [("fired", 120, 3.0)]
    assert eng.process(beat(T0 + 3 * MIN)) == []


def holding_runs(times: list[int], values: list | None, w: int, n: int, aggregate: str = ""):
    """The truth by brute force: the spans ``[a, b)`` where the window ``(t - w, t]`` meets
    the condition (``n`` events, ``n`` distinct values, or values summing to ``n``), from all
    events at once."""
    points = sorted({t for t in times} | {t + w for t in times})

    def holds(t: int) -> bool:
        inside = [i for i, x in enumerate(times) if t - w < x <= t]
        if values is None:
            return len(inside) >= n
        if aggregate == "sum":
            return sum(values[i] for i in inside) >= n
        return len({values[i] for i in inside}) >= n

    runs, start = [], None
    for t in points:
        if holds(t) and start is None:
            start = t
        elif not holds(t) and start is not None:
            runs.append((start, t))
            start = None
    assert start is None  # the last point is past every event
    return runs


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 40), min_size=1, max_size=14),
    st.data(),
    st.sampled_from(["count", "distinct", "sum"]),
    st.sampled_from(["", "resolve: {on: cleared}\n"]),
)
def test_any_arrival_order_within_the_lateness_finds_every_episode_and_no_other(
    minutes, data, aggregate, extra
):
    """Events at whole minutes, each arriving up to ``lateness`` after its time (so none is
    refused); ``count gte 3``, ``distinct gte 3`` or ``sum gte 7`` (of values 1 to 4) within
    10m, with or without ``resolve``. Every span where the condition holds on all the events
    gets a warning, every warning is inside such a span, and the time-ordered run fires
    exactly once per span, at its start."""
    lateness, w = 10 * MIN, 10 * MIN
    n = 7 if aggregate == "sum" else 3
    times = [T0 + m * MIN for m in minutes]
    values = None
    if aggregate == "distinct":
        values = [data.draw(st.sampled_from("abcd")) for _ in times]
    elif aggregate == "sum":
        values = [data.draw(st.integers(1, 4)) for _ in times]
    delays = [data.draw(st.integers(0, 10)) * MIN for _ in times]
    arrival = sorted(range(len(times)), key=lambda i: (times[i] + delays[i], i))
    agg = {"count": "count", "distinct": "{distinct: attrs.c}", "sum": "{sum: attrs.c}"}
    truth = holding_runs(times, values, w, n, aggregate)

    def run(order: list[int]) -> list[int]:
        rule = threshold(f"{{gte: {n}}}", "10m", agg[aggregate], extra)
        eng = engine(rule, lateness_ms=lateness)
        out = []
        for i in order:
            e = beat(times[i], c=values[i] if values else "a")
            assert eng.admit(e, now_ms=times[i] + delays[i]).kind == OK
            out += eng.process(e)
        return [x.ts_ms for x in out + eng.advance_to(T0 + 2 * HOUR) if x.stage == "fired"]

    in_time = run(sorted(range(len(times)), key=lambda i: (times[i], i)))
    assert in_time == [a for a, _ in truth]
    shuffled = run(arrival)
    assert all(any(a <= t < b for a, b in truth) for t in shuffled)
    assert all(any(a <= t < b for t in shuffled) for a, b in truth)


# --- 4. a resolution is never dated before the warning it resolves -----------------------

OVERDUE = """
id: ov
title: t
type: absence
group_by: [attrs.app]
anchor: {type: app.accepted}
fulfilled_by: {type: app.decided}
paused_by: {type: app.paused}
resumed_by: {type: app.resumed}
deadline: {after: 1h}
resolve: {on: fulfilled}
"""


def test_a_late_fulfilment_after_the_deadline_fired_resolves_at_the_deadline():
    """A pause at +70m makes the +60m deadline fire (before the watermark got there); the
    decision of +50m arrives next, within the lateness: resolved at +60m, not +50m."""
    eng = engine(OVERDUE, lateness_ms=30 * MIN)
    out = feed(
        eng,
        [
            ev(T0, "app.accepted", app="A"),
            ev(T0 + 70 * MIN, "app.paused", app="A"),
            ev(T0 + 50 * MIN, "app.decided", app="A"),
        ],
    )
    assert stages(out) == [("overdue", 3600, 3600.0), ("resolved", 3600, 3000.0)]
    fired, resolved = out
    assert resolved.ts_ms >= fired.ts_ms


# --- checkpoints written before these fields existed still load ------------------------


def blank(cls: type) -> object:
    return cls.__new__(cls)


class OldLayout:
    """Pickles a slots dataclass as a checkpoint of the layout before its last ``newer``
    fields were added."""

    def __init__(self, obj: object, newer: int) -> None:
        self.obj, self.newer = obj, newer

    def __reduce__(self):
        names = list(type(self.obj).__dataclass_fields__)  # type: ignore[attr-defined]
        slots = {n: getattr(self.obj, n) for n in names[: -self.newer]}
        return (blank, (type(self.obj),), (None, slots))


def as_old_checkpoint(eng, newer: int) -> list[tuple[tuple[str, str], bytes]]:
    out = []
    for (ns, key), blob in eng.export_dirty().items():
        if blob is None:
            continue
        if ns != ENGINE_KEY[0] and not key.startswith(("__", SUP)):  # a key's state
            blob = pickle.dumps(OldLayout(pickle.loads(blob), newer), protocol=5)
        out.append(((ns, key), blob))
    return out


def test_a_window_checkpointed_before_the_late_event_fields_restores_and_fires():
    first = engine(STEADY)
    assert feed(first, [beat(T0), beat(T0 + MIN)]) == []
    second = engine(STEADY)
    assert second.restore(as_old_checkpoint(first, newer=3)) > 0  # no past, since, closed
    assert stages(second.process(beat(T0 + 2 * MIN))) == [("fired", 120, 3.0)]


def test_an_obligation_checkpointed_before_fired_ms_restores_and_resolves():
    first = engine(OVERDUE)
    feed(first, [ev(T0, "app.accepted", app="A")])
    assert stages(first.advance_to(T0 + 2 * HOUR)) == [("overdue", 3600, 3600.0)]
    second = engine(OVERDUE)
    assert second.restore(as_old_checkpoint(first, newer=1)) > 0
    out = second.process(ev(T0 + 3 * HOUR, "app.decided", app="A"))
    assert stages(out) == [("resolved", 3 * 3600, 3 * 3600.0)]
