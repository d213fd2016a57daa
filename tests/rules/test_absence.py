"""absence rules: fire once at the deadline, not before, not twice; a closing event cancels."""

from riskloop.testing import make_event
from rules import RuleSet
from rules.engine import Engine
from rules.model import parse_rule

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
