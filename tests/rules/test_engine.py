"""Shared blocks and engine behaviour: exceptions, shadow mode, rules over warnings,
templates, checkpoints, seeding and deterministic ids."""

from __future__ import annotations

import pytest
from rule_factories import DAY, HOUR, MIN, T0, engine, ev, feed, rule

from envelope.events import RiskWarning
from rules import RuleSet
from rules.engine.engine import Engine

COUNT = """
id: visits
title: many visits
type: threshold
match: {type: application.submitted}
group_by: [attrs.applicant]
window: 1h
condition: {gte: 3}
"""


def submit(ts: int, who: str = "c1", **attrs: object):
    return ev(ts, "application.submitted", applicant=who, **attrs)


def burst(start: int, who: str = "c1", n: int = 3, **attrs: object):
    return [submit(start + i * MIN, who, **attrs) for i in range(n)]


def test_exception_applies_until_its_expiry_day_ends_in_event_time():
    exc = (
        "exceptions:\n  - {name: pilot, match: {region: '330106'}, reason: pilot district,"
        " approved_by: li.si, expires: 2026-03-03}\n"
    )
    eng = engine(COUNT + exc)
    assert feed(eng, burst(T0)) == []  # 2 March: exempt
    assert feed(eng, burst(T0 + DAY)) == []  # 3 March: still exempt (inclusive)
    out = feed(eng, burst(T0 + 2 * DAY))  # 4 March: expired
    assert len(out) == 1 and eng.stats["visits"]["excepted"] == 6


def test_experimental_rules_run_in_shadow_mode():
    eng = engine(COUNT + "status: experimental\n")
    [w] = feed(eng, burst(T0))
    assert w.details["shadow"] is True and eng.stats["visits"]["shadow"] == 1
    [live] = feed(engine(COUNT), burst(T0))
    assert "shadow" not in live.details


def test_deprecated_rules_do_not_run():
    eng = engine(COUNT + "status: deprecated\n")
    assert feed(eng, burst(T0)) == [] and eng.runners == []


def test_every_warning_carries_rule_id_version_and_logic_hash():
    r = rule(COUNT + "version: 3\n")
    [w] = feed(Engine(RuleSet([r]), lateness_ms=0), burst(T0))
    assert (w.rule_id, w.rule_version, w.logic_hash) == ("visits", 3, r.logic_hash)


def test_output_templates_and_evidence_fields():
    out = (
        "output:\n  title: '{applicant} filed {value} times in {window} ({attrs.item})'\n"
        "  summary: 'key {key}, stage {stage}, severity {severity}'\n"
        "  fields: [attrs.item, region]\n"
    )
    [w] = feed(engine(COUNT + out), burst(T0, item="food"))
    assert w.title == "c1 filed 3 times in 1h (food)"
    assert w.summary == "key c1, stage fired, severity medium"
    assert w.details["fields"] == {"attrs.item": "food", "region": "330106"}
    assert w.details["entity"] == {"kind": "citizen", "id": "cit-1"}


def test_suppression_re_emits_when_severity_rises():
    tiers = "severity: [{when: {gte: 5}, level: high}, {level: low}]\nsuppress: {for: 1d}\n"
    eng = engine(COUNT + tiers)
    first = feed(eng, burst(T0) + [submit(T0 + 2 * HOUR + i * MIN) for i in range(5)])
    assert [(w.severity, w.value) for w in first] == [("low", 3.0), ("high", 5.0)]
    # the second episode opened low (held back), then rose to high (emitted); a third
    # low episode later the same day is held back too
    assert feed(eng, burst(T0 + 5 * HOUR)) == [] and eng.stats["visits"]["suppressed"] == 2


WARNINGS_RULE = """
id: many-risks
title: many different risks for one applicant
type: threshold
source: warnings
match: {attrs.severity|in: [medium, high]}
group_by: [entity.id]
window: 30d
aggregate: distinct(attrs.rule_id)
condition: {gte: 2}
"""
OTHER = COUNT.replace("id: visits", "id: night-visits").replace("window: 1h", "window: 2h")


def test_rules_over_warnings_see_the_engines_own_warnings():
    eng = engine(COUNT, OTHER, WARNINGS_RULE)
    out = feed(eng, burst(T0))
    assert sorted(w.rule_id for w in out) == ["many-risks", "night-visits", "visits"]
    [meta] = [w for w in out if w.rule_id == "many-risks"]
    assert (
        meta.key == "cit-1"
        and meta.value == 2.0
        and set(meta.evidence) == {w.id for w in out if w.rule_id != "many-risks"}
    )


def test_shadow_warnings_do_not_feed_live_rules():
    eng = engine(COUNT + "status: experimental\n", OTHER, WARNINGS_RULE)
    assert sorted(w.rule_id for w in feed(eng, burst(T0))) == ["night-visits", "visits"]
    shadow_meta = engine(
        COUNT + "status: experimental\n", OTHER, WARNINGS_RULE + "status: experimental\n"
    )
    assert "many-risks" in {w.rule_id for w in feed(shadow_meta, burst(T0))}


def test_seed_learns_without_emitting():
    eng = engine(COUNT)
    assert eng.seed(burst(T0)) == 3 and eng.watermark_ms == T0 + 2 * MIN
    assert feed(eng, [submit(T0 + 4 * MIN)]) == []  # the episode is already open


def test_same_stream_same_ids_and_replay_after_checkpoint():
    texts = [
        COUNT + "resolve: {on: cleared}\nsuppress: {for: 3h}\n",
        "id: overdue\ntitle: t\ntype: absence\ngroup_by: [attrs.app]\n"
        "anchor: {type: app.accepted}\nfulfilled_by: {type: app.decided}\ndeadline: {after: 2h}\n",
    ]
    events = []
    for i in range(40):
        events += [
            submit(T0 + i * 7 * MIN, f"c{i % 3}"),
            ev(T0 + i * 11 * MIN, "app.accepted", app=f"A{i}"),
        ]
        if i % 2:
            events.append(ev(T0 + i * 11 * MIN + 30 * MIN, "app.decided", app=f"A{i}"))
    events.sort(key=lambda e: e.ts_ms)
    whole = engine(*texts, lateness_ms=5 * MIN)
    expected = [w.id for w in feed(whole, events)]
    first = engine(*texts, lateness_ms=5 * MIN)
    got = [w.id for w in feed(first, events[:50])]
    snapshot = first.export_dirty()
    second = engine(*texts, lateness_ms=5 * MIN)
    second.restore((k, v) for k, v in snapshot.items() if v is not None)
    got += [w.id for w in feed(second, events[50:])]
    assert got == expected and len(expected) > 5


def test_logic_change_starts_fresh_state_wording_change_keeps_it():
    eng = engine(COUNT)
    feed(eng, burst(T0, n=2))
    snapshot = [(k, v) for k, v in eng.export_dirty().items() if v is not None]
    reworded = engine(COUNT.replace("title: many visits", "title: reworded\nseverity: high"))
    assert reworded.restore(snapshot) > 0 and len(feed(reworded, [submit(T0 + 3 * MIN)])) == 1
    changed = engine(COUNT.replace("gte: 3", "gte: 2"))
    assert changed.restore(snapshot) == 0 and changed.key_count() == 0


def test_warning_details_round_trip_through_json():
    [w] = feed(
        engine(COUNT + "status: test\noutput: {fields: [attrs.item]}\n"), burst(T0, item="x")
    )
    back = RiskWarning.from_json(w.to_json())
    assert back == w and back.details["fields"] == {"attrs.item": "x"}
    old = {k: v for k, v in w.to_dict().items() if k != "details"}
    assert RiskWarning.from_dict(old).details == {}


def test_state_of_a_window():
    eng = engine(COUNT)
    feed(eng, burst(T0, n=2))
    assert eng.state_of("visits", "c1")["events"] == 2
    with pytest.raises(KeyError):
        eng.state_of("nope", "c1")


def test_a_rule_that_fails_on_an_event_does_not_blind_the_others(monkeypatch, caplog):
    """A stand-in fault (the match evaluator is made to raise for one rule): the other rule
    on the same event still fires, and the failure is counted and logged, not raised."""
    from rules.types.match import MatchEvaluator

    real = MatchEvaluator.on_event

    def faulty(self, event, st):
        if self.rule.id == "broken-one":
            raise ZeroDivisionError("a bug in a rule")
        return real(self, event, st)

    monkeypatch.setattr(MatchEvaluator, "on_event", faulty)
    text = "id: {}\ntitle: t\ntype: match\nmatch: {{type: a.b}}\ngroup_by: [attrs.k]\n"
    eng = engine(text.format("broken-one"), text.format("healthy-one"))
    out = feed(eng, [ev(T0 + i * MIN, k=f"k{i}") for i in range(7)])
    assert [w.rule_id for w in out] == ["healthy-one"] * 7
    assert eng.stats["broken-one"]["errors"] == 7
    logged = [r for r in caplog.records if "rule broken-one failed" in r.getMessage()]
    assert len(logged) == 5 and "only counted" in logged[-1].getMessage()


def test_a_rule_failing_on_the_watermark_or_on_warnings_does_not_stop_the_others(monkeypatch):
    """Stand-in faults again: one deadline rule raises when the watermark reaches it, one
    rule over warnings raises on every warning; the healthy rules' warnings still come."""
    from rules.types.absence import AbsenceEvaluator
    from rules.types.match import MatchEvaluator

    real_wm, real_ev = AbsenceEvaluator.on_watermark, MatchEvaluator.on_event

    def faulty_wm(self, wm_ms, st):
        if self.rule.id == "broken-deadline":
            raise KeyError("a bug in a rule")
        return real_wm(self, wm_ms, st)

    def faulty_ev(self, event, st):
        if self.rule.id == "broken-over-warnings":
            raise ValueError("a bug in a rule")
        return real_ev(self, event, st)

    monkeypatch.setattr(AbsenceEvaluator, "on_watermark", faulty_wm)
    monkeypatch.setattr(MatchEvaluator, "on_event", faulty_ev)
    deadline = (
        "id: {}\ntitle: t\ntype: absence\ngroup_by: [attrs.k]\nanchor: {{type: a.b}}\n"
        "fulfilled_by: {{type: a.c}}\ndeadline: {{after: 1h}}\n"
    )
    over = (
        "id: broken-over-warnings\ntitle: t\ntype: match\nsource: warnings\n"
        "match: {attrs.rule_id: healthy-deadline}\ngroup_by: [attrs.key]\n"
    )
    eng = engine(deadline.format("broken-deadline"), deadline.format("healthy-deadline"), over)
    feed(eng, [ev(T0, k="k1")])
    out = eng.advance_to(T0 + 2 * HOUR)
    assert [(w.rule_id, w.stage) for w in out] == [("healthy-deadline", "overdue")]
    assert eng.stats["broken-deadline"]["errors"] == 1
    assert eng.stats["broken-over-warnings"]["errors"] == 1
