"""absence rules: fire once at the deadline, not before, not twice; a closing event cancels."""

from event_factories import make_event
from rule_factories import MIN, ev, feed
from rule_factories import engine as make_engine

from rules import RuleSet
from rules.engine.engine import Engine
from rules.language.model import parse_rule

T0 = 1772414100000  # 2026-03-02T09:15:00+08:00
HOUR = 3_600_000
DAY = 24 * HOUR

RULE = """
id: approval-overdue
title: overdue
type: absence
group_by: [attrs.application_id]
anchor: {type: application.accepted}
fulfilled_by: {type: application.decided}
deadline: {field: attrs.deadline_days, unit: d}
"""


def accepted(ts, app="A-1", days=5):
    return make_event(ts_ms=ts, type="application.accepted", application_id=app, deadline_days=days)


def decided(ts, app="A-1"):
    return make_event(ts_ms=ts, type="application.decided", application_id=app)


def other(ts):
    return make_event(ts_ms=ts, type="hotline.ticket", category="noise")


def engine(lateness_ms=0):
    return Engine(RuleSet([parse_rule(RULE, "r.yaml")]), lateness_ms=lateness_ms)


def test_fires_once_when_watermark_passes_deadline():
    eng = engine()
    assert eng.process(accepted(T0)) == []
    assert eng.process(other(T0 + 5 * DAY - 1)) == []  # one ms before the deadline
    [w] = eng.process(other(T0 + 5 * DAY))
    assert (w.key, w.stage, w.ts_ms) == ("A-1", "overdue", T0 + 5 * DAY)
    assert eng.process(other(T0 + 6 * DAY)) == []
    assert eng.advance_to(T0 + 30 * DAY) == []


def test_decision_before_deadline_cancels():
    eng = engine()
    eng.process(accepted(T0))
    eng.process(decided(T0 + 2 * DAY))
    assert eng.process(other(T0 + 10 * DAY)) == []
    assert eng.key_count() == 0


def test_decision_after_deadline_still_counts_as_overdue_once():
    eng = engine(lateness_ms=7 * DAY)  # watermark far behind: the decision arrives first
    eng.process(accepted(T0))
    [w] = eng.process(decided(T0 + 6 * DAY))
    assert w.stage == "overdue" and w.ts_ms == T0 + 5 * DAY
    assert eng.advance_to(T0 + 30 * DAY) == []


def test_lateness_delays_firing_by_the_allowance():
    eng = engine(lateness_ms=HOUR)
    eng.process(accepted(T0, days=1))
    assert eng.process(other(T0 + DAY + HOUR - 1)) == []
    assert len(eng.process(other(T0 + DAY + HOUR))) == 1


def test_idle_advance_fires_deadlines_without_events():
    eng = engine()
    eng.process(accepted(T0, days=1))
    assert eng.advance_idle(DAY - 1) == []
    assert len(eng.advance_idle(1)) == 1


def test_id_is_the_same_whether_fired_by_watermark_or_late_decision():
    a, b = engine(), engine(lateness_ms=7 * DAY)
    a.process(accepted(T0))
    b.process(accepted(T0))
    [wa] = a.process(other(T0 + 6 * DAY))
    [wb] = b.process(decided(T0 + 6 * DAY))
    assert wa.id == wb.id


def test_missing_or_bad_deadline_field_opens_nothing():
    eng = engine()
    eng.process(make_event(ts_ms=T0, type="application.accepted", application_id="A-2"))
    eng.process(accepted(T0, app="A-3", days="soon"))
    assert eng.key_count() == 0


# --- stages, cancel, pause/resume, working days, absolute deadlines, resolve ---------------


STAGED = """
id: staged
title: staged
type: absence
group_by: [attrs.application_id]
anchor: {type: application.accepted}
fulfilled_by: {type: application.decided}
cancelled_by: {type: application.withdrawn}
paused_by: {type: application.paused}
resumed_by: {type: application.resumed}
deadline: {after: 10d}
stages:
  - {at: 80%, name: due-soon, severity: medium}
  - {at: 100%, name: overdue, severity: high}
resolve: {on: fulfilled}
"""


def app(ts, type, app_id="A-1", **attrs):
    return ev(ts, type, application_id=app_id, **attrs)


def test_stages_fire_in_order_at_their_share_of_the_deadline():
    eng = make_engine(STAGED)
    eng.process(app(T0, "application.accepted"))
    out = eng.advance_to(T0 + 20 * DAY)
    assert [(w.stage, w.severity, w.ts_ms) for w in out] == [
        ("due-soon", "medium", T0 + 8 * DAY),
        ("overdue", "high", T0 + 10 * DAY),
    ]


def test_fulfilment_after_a_stage_resolves_it():
    eng = make_engine(STAGED)
    eng.process(app(T0, "application.accepted"))
    [soon] = eng.advance_to(T0 + 9 * DAY)
    [resolved] = eng.process(app(T0 + 9 * DAY + HOUR, "application.decided"))
    assert (soon.stage, resolved.stage, resolved.severity) == ("due-soon", "resolved", "medium")
    assert resolved.fingerprint == soon.fingerprint and eng.key_count() == 0


def test_cancel_closes_without_a_warning_and_without_resolution():
    eng = make_engine(STAGED)
    eng.process(app(T0, "application.accepted"))
    assert eng.process(app(T0 + DAY, "application.withdrawn")) == []
    assert eng.advance_to(T0 + 30 * DAY) == [] and eng.key_count() == 0


def test_pause_stops_the_clock_and_resume_moves_the_deadline():
    eng = make_engine(STAGED)
    eng.process(app(T0, "application.accepted"))
    eng.process(app(T0 + 2 * DAY, "application.paused"))
    assert eng.advance_to(T0 + 20 * DAY) == []  # paused: nothing fires
    eng.process(app(T0 + 20 * DAY, "application.resumed"))  # 18 days paused
    out = eng.advance_to(T0 + 40 * DAY)
    assert [(w.stage, w.ts_ms) for w in out] == [
        ("due-soon", T0 + 26 * DAY),
        ("overdue", T0 + 28 * DAY),
    ]


def test_late_decision_fires_passed_stages_with_the_watermark_ids():
    a, b = make_engine(STAGED), make_engine(STAGED, lateness_ms=30 * DAY)
    a.process(app(T0, "application.accepted"))
    b.process(app(T0, "application.accepted"))
    ids_a = [w.id for w in a.advance_to(T0 + 11 * DAY)]
    out_b = b.process(app(T0 + 11 * DAY, "application.decided"))
    assert [w.stage for w in out_b] == ["due-soon", "overdue", "resolved"]
    assert [w.id for w in out_b[:2]] == ids_a


WORKDAYS = STAGED.replace("deadline: {after: 10d}", "deadline: {field: attrs.days, unit: workday}")


def test_working_day_deadline_skips_the_spring_festival():
    eng = make_engine(WORKDAYS)
    fri = 1770944400000  # Fri 2026-02-13 09:00 (UTC+8); 15-23 Feb are holidays
    eng.process(app(fri, "application.accepted", days=3))
    out = eng.advance_to(fri + 30 * DAY)
    assert out[-1].stage == "overdue" and out[-1].ts_ms == 1771981200000  # Wed 2026-02-25 09:00


def test_deadline_read_as_a_time_from_the_anchor():
    rule = STAGED.replace("deadline: {after: 10d}", "deadline: {at_field: attrs.due}")
    eng = make_engine(rule)
    eng.process(app(T0, "application.accepted", due="2026-03-04T09:15:00+08:00"))
    eng.process(app(T0, "application.accepted", app_id="A-2", due=T0 + DAY))
    eng.process(app(T0, "application.accepted", app_id="A-3", due="next week"))
    out = eng.advance_to(T0 + 5 * DAY)
    assert sorted((w.key, w.stage, w.ts_ms) for w in out if w.stage == "overdue") == [
        ("A-1", "overdue", T0 + 2 * DAY),
        ("A-2", "overdue", T0 + DAY),
    ]


def test_state_of_an_open_obligation():
    eng = make_engine(STAGED)
    eng.process(app(T0, "application.accepted"))
    state = eng.state_of("staged", "A-1")
    assert (
        state["open"]
        and state["deadline_ms"] == T0 + 10 * DAY
        and state["next_stage"] == "due-soon"
    )


HEARTBEAT = """
id: feed-silent
title: feed silent
type: absence
group_by: [attrs.feed]
heartbeat:
  match: {type: feed.delivered}
  every: 1h
  grace: 15m
  keys: [tax, household]
  forget_after: 1d
resolve: {on: cleared}
"""


def beat(ts, feed_name):
    return ev(ts, "feed.delivered", feed=feed_name)


def test_heartbeat_fires_once_per_silence_and_resolves_on_the_next_beat():
    eng = make_engine(HEARTBEAT)
    out = feed(eng, [beat(T0, "tax"), beat(T0 + 50 * MIN, "tax"), beat(T0 + 100 * MIN, "tax")])
    # 'household' is listed: expected from the first watermark (T0), silent at T0 + 75m
    assert [(w.key, w.stage, w.ts_ms) for w in out] == [("household", "silent", T0 + 75 * MIN)]
    out = eng.advance_to(T0 + 5 * HOUR)
    assert [(w.key, w.ts_ms) for w in out] == [("tax", T0 + 175 * MIN)]
    [back] = eng.process(beat(T0 + 6 * HOUR, "tax"))
    assert back.stage == "resolved" and back.key == "tax"


def test_heartbeat_forgets_a_key_silent_too_long():
    eng = make_engine(HEARTBEAT.replace("  keys: [tax, household]\n", ""))
    eng.process(beat(T0, "tax"))
    eng.advance_to(T0 + 2 * DAY)
    assert eng.key_count() == 0
    assert eng.advance_to(T0 + 10 * DAY) == []


def test_a_silence_between_two_beats_is_reported_with_the_default_lateness():
    """Deliveries 78 minutes apart, 5 minutes of lateness: the silence due at 75 minutes
    has not been reached by the watermark (73) when the next beat arrives; it is still
    reported, at its own instant, and resolved by that beat."""
    eng = make_engine(HEARTBEAT.replace("  keys: [tax, household]\n", ""), lateness_ms=5 * MIN)
    out = feed(eng, [beat(T0, "tax"), beat(T0 + 78 * MIN, "tax")])
    assert [(w.key, w.stage, w.ts_ms) for w in out] == [
        ("tax", "silent", T0 + 75 * MIN),
        ("tax", "resolved", T0 + 78 * MIN),
    ]
