"""threshold rules: window edges on event time, one warning per episode, deterministic ids."""

from event_factories import make_event
from rule_factories import HOUR, ev, feed
from rule_factories import engine as make_engine

from rules import RuleSet
from rules.engine.engine import Engine
from rules.language.model import parse_rule

T0 = 1772414100000  # 2026-03-02T09:15:00+08:00
MIN = 60_000

COUNT_RULE = """
id: many-submissions
title: many submissions
type: threshold
match: {type: application.submitted}
group_by: [attrs.applicant]
window: 10m
condition: {gte: 3}
"""

DISTINCT_RULE = """
id: many-citizens
title: many citizens
type: threshold
match: {type: data.access}
group_by: [attrs.account]
window: 1h
aggregate: {distinct: attrs.citizen}
condition: {gte: 3}
"""


def engine(text: str) -> Engine:
    return Engine(RuleSet([parse_rule(text, "t.yaml")]), lateness_ms=0)


def submit(ts_ms: int, applicant: str = "cit-1"):
    return make_event(ts_ms=ts_ms, type="application.submitted", applicant=applicant)


def test_fires_when_count_reaches_limit_inside_window():
    eng = engine(COUNT_RULE)
    assert eng.process(submit(T0)) == []
    assert eng.process(submit(T0 + 4 * MIN)) == []
    [w] = eng.process(submit(T0 + 9 * MIN))
    assert (w.rule_id, w.key, w.value) == ("many-submissions", "cit-1", 3.0)
    assert (w.window_start_ms, w.window_end_ms) == (T0 - MIN, T0 + 9 * MIN)


def test_event_exactly_one_window_old_is_outside():
    eng = engine(COUNT_RULE)
    eng.process(submit(T0))
    eng.process(submit(T0 + 5 * MIN))
    # window is (t - 10m, t]: the first event is exactly 10 minutes old and no longer counts
    assert eng.process(submit(T0 + 10 * MIN)) == []
    assert len(eng.process(submit(T0 + 10 * MIN + 1))) == 1


def test_one_warning_per_episode_and_a_new_one_after_it_clears():
    eng = engine(COUNT_RULE)
    fired = []
    for minute in (0, 1, 2, 3, 4):  # condition holds from the third event on
        fired += eng.process(submit(T0 + minute * MIN))
    assert len(fired) == 1
    assert eng.process(submit(T0 + 60 * MIN)) == []  # window now holds one event: episode ends
    fired2 = eng.process(submit(T0 + 61 * MIN)) + eng.process(submit(T0 + 62 * MIN))
    assert len(fired2) == 1 and fired2[0].id != fired[0].id


def test_keys_are_independent():
    eng = engine(COUNT_RULE)
    out = []
    for i in range(3):
        out += eng.process(submit(T0 + i * MIN, applicant="cit-a"))
        out += eng.process(submit(T0 + i * MIN, applicant=f"cit-{i}"))
    assert [w.key for w in out] == ["cit-a"]


def test_distinct_counts_values_not_events():
    eng = engine(DISTINCT_RULE)

    def read(ts, citizen):
        return make_event(ts_ms=ts, type="data.access", account="stf-1", citizen=citizen)

    out = []
    for i, citizen in enumerate(["c1", "c1", "c2", "c2", "c1"]):
        out += eng.process(read(T0 + i * MIN, citizen))
    assert out == []
    [w] = eng.process(read(T0 + 6 * MIN, "c3"))
    assert w.value == 3.0 and len(w.evidence) == 6


def test_same_stream_same_ids():
    events = [submit(T0 + i * MIN, applicant=f"cit-{i % 2}") for i in range(12)]
    ids = []
    for _ in range(2):
        eng = engine(COUNT_RULE)
        ids.append([w.id for e in events for w in eng.process(e)])
    assert ids[0] == ids[1] and len(ids[0]) == 2


def test_out_of_order_event_counts_in_its_window():
    eng = engine(COUNT_RULE)
    eng.process(submit(T0 + 5 * MIN))
    eng.process(submit(T0 + 6 * MIN))
    [w] = eng.process(submit(T0 + 2 * MIN))  # late, but within the 10-minute window
    assert w.value == 3.0


def test_idle_keys_are_forgotten_once_their_window_passes():
    eng = engine(COUNT_RULE)
    for i in range(50):
        eng.process(submit(T0 + i * 1000, applicant=f"cit-{i}"))
    assert eng.key_count() == 50
    eng.process(submit(T0 + 30 * MIN, applicant="late"))
    assert eng.key_count() == 1


# --- aggregates, ranges, min_events, time-driven evaluation --------------------------------


def agg_rule(aggregate: str, condition: str, extra: str = "") -> str:
    return (
        "id: agg\ntitle: t\ntype: threshold\nmatch: {type: data.export}\n"
        "group_by: [attrs.account]\nwindow: 1h\n"
        f"aggregate: {aggregate}\ncondition: {condition}\n{extra}"
    )


def export(ts_ms: int, rows: object, account: str = "a1"):
    return ev(ts_ms, "data.export", account=account, rows=rows)


def test_sum_of_a_field():
    eng = make_engine(agg_rule("sum(attrs.rows)", "{gte: 1000}"))
    out = feed(eng, [export(T0, 400), export(T0 + MIN, "350"), export(T0 + 2 * MIN, "n/a")])
    assert out == []
    [w] = eng.process(export(T0 + 3 * MIN, 250))
    assert w.value == 1000.0 and len(w.evidence) == 3  # the non-number was skipped


def test_max_and_percentile():
    eng = make_engine(agg_rule("max(attrs.rows)", "{gt: 500}"))
    assert [w.value for w in feed(eng, [export(T0, 10), export(T0 + MIN, 900)])] == [900.0]
    eng = make_engine(agg_rule("percentile(attrs.rows, 90)", "{gte: 90}", "min_events: 10\n"))
    out = feed(eng, [export(T0 + i * MIN, (i + 1) * 10) for i in range(10)])
    assert [w.value for w in out] == [91.0]  # needs ten values, then the 90th percentile


def test_between_fires_inside_the_range_only():
    eng = make_engine(agg_rule("count", "{between: [2, 3]}"))
    out = feed(eng, [export(T0 + i * MIN, 1) for i in range(5)])
    assert [w.value for w in out] == [2.0]  # one episode: 2..3, over at 4


def test_lt_fires_when_the_window_shrinks_at_the_exact_instant():
    """Judged from a whole window after the key's first event (T0 + 1h) on; ``min_events:
    1`` leaves an emptied window alone."""
    eng = make_engine(agg_rule("count", "{lt: 2}", "min_events: 1\nresolve: {on: cleared}\n"))
    assert feed(eng, [export(T0, 1), export(T0 + MIN, 1)]) == []  # not watched an hour yet
    out = eng.advance_to(T0 + 2 * HOUR)
    # at T0 + 1h the first event leaves: one left, the condition holds; none at T0 + 1h1m
    assert [(w.stage, w.ts_ms, w.value) for w in out] == [
        ("fired", T0 + HOUR, 1.0),
        ("resolved", T0 + MIN + HOUR, 0.0),
    ]


def test_resolve_when_the_count_drops_below_the_limit():
    eng = make_engine(COUNT_RULE + "resolve: {on: cleared}\n")
    fired = feed(eng, [submit(T0 + i * MIN) for i in range(3)])
    [resolved] = eng.advance_to(T0 + HOUR)
    assert resolved.stage == "resolved" and resolved.ts_ms == T0 + 10 * MIN
    assert resolved.key == fired[0].key and resolved.id != fired[0].id


def test_resolve_is_stamped_when_the_window_emptied_even_if_the_next_event_comes_first():
    """No watermark move between the burst and an event hours later: the event lets the
    window's expiry fire first, at its own instant, on the state before the event."""
    eng = engine(COUNT_RULE + "resolve: {on: cleared}\n")
    fired = [w for i in range(3) for w in eng.process(submit(T0 + i * MIN))]
    later = eng.process(submit(T0 + 5 * HOUR))
    assert [w.stage for w in fired] == ["fired"]
    assert [(w.stage, w.ts_ms, w.value) for w in later] == [("resolved", T0 + 10 * MIN, 2.0)]


def test_resolve_keeps_its_own_instant_with_the_default_lateness():
    """A 10-minute window, 5 minutes of lateness, the next event 13 minutes after the burst:
    the window emptied before the watermark got there; resolved at 10 minutes after the
    first event, with the count it had then."""
    eng = Engine(
        RuleSet([parse_rule(COUNT_RULE + "resolve: {on: cleared}\n", "t.yaml")]),
        lateness_ms=5 * MIN,
    )
    fired = [w for i in range(3) for w in eng.process(submit(T0 + i * MIN))]
    later = eng.process(submit(T0 + 13 * MIN))
    assert [w.stage for w in fired] == ["fired"]
    assert [(w.stage, w.ts_ms, w.value) for w in later] == [("resolved", T0 + 10 * MIN, 2.0)]


def test_an_episode_ends_on_event_time_whether_or_not_the_watermark_came_first():
    """Three submissions fire; the first leaves the window at +10m, when only two remain, so
    the episode ends there; a fourth at +10m30s makes three again: a new episode, a new
    warning. The same whether the watermark passed +10m before the fourth arrived (no
    lateness) or not (an hour of lateness): live and replay after a restart agree."""
    times = [0.0, 1.0, 2.0, 10.5]

    def ids(lateness_ms: int) -> list[tuple[str, int]]:
        eng = Engine(RuleSet([parse_rule(COUNT_RULE, "t.yaml")]), lateness_ms=lateness_ms)
        out = [w for t in times for w in eng.process(submit(T0 + int(t * MIN)))]
        return [(w.id, w.ts_ms) for w in out]

    assert ids(0) == ids(HOUR)
    assert [ts for _, ts in ids(HOUR)] == [T0 + 2 * MIN, T0 + 10 * MIN + 30_000]


def test_severity_tiers_report_each_rise_once():
    tiers = (
        "severity: [{when: {gte: 5}, level: critical}, {when: {gte: 4}, level: high},"
        " {level: low}]\n"
    )
    eng = make_engine(COUNT_RULE + tiers)
    out = feed(eng, [submit(T0 + i * 1000) for i in range(7)])
    assert [(w.value, w.severity) for w in out] == [(3.0, "low"), (4.0, "high"), (5.0, "critical")]
    assert len({w.id for w in out}) == 3


def test_top_values_and_fields_go_into_details():
    eng = make_engine(
        COUNT_RULE + "output: {top_values: {fields: [attrs.item], n: 1}, fields: [attrs.item]}\n"
    )
    events = [
        ev(T0 + i * MIN, "application.submitted", applicant="c1", item=it)
        for i, it in enumerate(["food", "bar", "food"])
    ]
    [w] = feed(eng, events)
    assert w.details["top"] == {"attrs.item": [["food", 2]]}
    assert w.details["fields"] == {"attrs.item": "food"}


def test_a_key_missing_a_group_field_is_ignored():
    eng = make_engine(COUNT_RULE)
    assert feed(eng, [ev(T0 + i, "application.submitted") for i in range(5)]) == []
    assert eng.key_count() == 0
