"""match, new_value, change and sequence rules on literal timestamps."""

from __future__ import annotations

from rule_factories import DAY, HOUR, MIN, T0, engine, ev, feed

MATCH = """
id: restricted
title: restricted dataset read
type: match
match: {type: data.access, attrs.dataset|in: [medical, tax]}
where: attrs.role != 'doctor'
group_by: [attrs.account]
"""


def access(ts: int, dataset: str, account: str = "s1", **extra: object):
    return ev(ts, "data.access", account=account, dataset=dataset, **extra)


def test_match_fires_per_matching_event():
    eng = engine(MATCH)
    out = feed(
        eng,
        [
            access(T0, "medical"),
            access(T0 + 1, "vehicle"),
            access(T0 + 2, "tax"),
            access(T0 + 3, "tax", role="doctor"),
        ],
    )
    assert [w.ts_ms for w in out] == [T0, T0 + 2] and len({w.id for w in out}) == 2


def test_match_with_suppression_counts_what_it_held_back():
    eng = engine(MATCH + "suppress: {for: 1h}\n")
    out = feed(eng, [access(T0 + i * 10 * MIN, "tax") for i in range(8)])
    assert [w.ts_ms for w in out] == [T0, T0 + 60 * MIN]
    assert "suppressed" not in out[0].details and out[1].details["suppressed"] == 5
    assert eng.stats["restricted"]["suppressed"] == 6


NEW_VALUE = """
id: new-dataset
title: new dataset
type: new_value
match: {type: data.access}
group_by: [attrs.account]
fields: [attrs.dataset, attrs.purpose]
lookback: 7d
"""


def test_new_value_fires_for_unseen_combinations_only():
    eng = engine(NEW_VALUE)
    out = feed(
        eng,
        [
            access(T0, "tax", purpose="a"),
            access(T0 + 1, "tax", purpose="a"),
            access(T0 + 2, "tax", purpose="b"),
            access(T0 + 3, "tax"),
        ],
    )
    assert [w.details["new"] for w in out] == ["tax|a", "tax|b"]  # missing purpose: skipped


def test_new_value_forgets_after_the_lookback():
    eng = engine(NEW_VALUE)
    feed(eng, [access(T0, "tax", purpose="a")])
    assert feed(eng, [access(T0 + 7 * DAY, "tax", purpose="a")]) == []  # within 7 days
    [w] = feed(eng, [access(T0 + 14 * DAY + 1, "tax", purpose="a")])
    assert w.details["new"] == "tax|a"


def test_new_value_warmup_and_seed_prevent_a_flood():
    eng = engine(NEW_VALUE + "warmup: 1d\n")
    assert feed(eng, [access(T0 + i, "tax", purpose=f"p{i}") for i in range(5)]) == []
    assert len(feed(eng, [access(T0 + DAY, "tax", purpose="late")])) == 1
    seeded = engine(NEW_VALUE)
    seeded.seed([access(T0 + i, "tax", purpose=f"p{i}") for i in range(5)])
    assert feed(seeded, [access(T0 + HOUR, "tax", purpose="p3")]) == []
    assert len(feed(seeded, [access(T0 + HOUR, "tax", purpose="p9")])) == 1


def test_new_value_sweeps_old_values_and_keys():
    eng = engine(NEW_VALUE)
    feed(eng, [access(T0, "tax", purpose="a", account=f"s{i}") for i in range(20)])
    eng.advance_to(T0 + 10 * DAY)
    assert eng.key_count() == 0


CHANGE = """
id: rep-change
title: legal representative changed
type: change
match: {type: enterprise.updated}
group_by: [entity.id]
fields: [attrs.rep]
within: 30d
output: {title: "{key}: {previous} -> {attrs.rep}"}
"""


def update(ts: int, rep: object):
    return (
        ev(ts, "enterprise.updated", rep=rep) if rep is not None else ev(ts, "enterprise.updated")
    )


def test_change_fires_on_a_different_value_within_the_span():
    eng = engine(CHANGE)
    out = feed(
        eng,
        [
            update(T0, "a"),
            update(T0 + DAY, "a"),
            update(T0 + 2 * DAY, None),
            update(T0 + 3 * DAY, "b"),
            update(T0 + 40 * DAY, "c"),
        ],
    )
    assert [w.title for w in out] == ["cit-1: a -> b"]  # 'c' came after 37 silent days


def test_change_ignores_late_events():
    eng = engine(CHANGE)
    feed(eng, [update(T0 + DAY, "b")])
    assert feed(eng, [update(T0, "a")]) == []


SEQUENCE = """
id: dereg
title: deregistration after a finding
type: sequence
group_by: [entity.id]
within: 10d
steps:
  - {name: finding, match: {type: inspection.performed, attrs.result: finding}}
  - {name: notice, match: {type: notice.sent}, where: attrs.kind == 'penalty'}
  - {name: dereg, match: {type: enterprise.dereg}}
not_between:
  - match: {type: inspection.rectified}
"""


def step(day: float, type: str, **attrs: object):
    return ev(T0 + int(day * DAY), type, **attrs)


FINDING = ("inspection.performed", {"result": "finding"})


def test_sequence_in_order_within_the_span():
    eng = engine(SEQUENCE)
    out = feed(
        eng,
        [
            step(0, FINDING[0], **FINDING[1]),
            step(1, "notice.sent", kind="penalty"),
            step(2, "other.thing"),
            step(3, "enterprise.dereg"),
        ],
    )
    assert [(w.value, len(w.evidence)) for w in out] == [(3 * 86400.0, 3)]


def test_sequence_out_of_order_or_too_slow_or_broken_does_not_fire():
    wrong_order = [
        step(0, "notice.sent", kind="penalty"),
        step(1, FINDING[0], **FINDING[1]),
        step(2, "enterprise.dereg"),
    ]
    too_slow = [
        step(0, FINDING[0], **FINDING[1]),
        step(5, "notice.sent", kind="penalty"),
        step(11, "enterprise.dereg"),
    ]
    broken = [
        step(0, FINDING[0], **FINDING[1]),
        step(1, "inspection.rectified"),
        step(2, "notice.sent", kind="penalty"),
        step(3, "enterprise.dereg"),
    ]
    where_fails = [
        step(0, FINDING[0], **FINDING[1]),
        step(1, "notice.sent", kind="reminder"),
        step(2, "enterprise.dereg"),
    ]
    for events in (wrong_order, too_slow, broken, where_fails):
        assert feed(engine(SEQUENCE), events) == []


def test_a_late_event_dated_before_the_sequence_began_does_not_break_it():
    """Lateness of 3 days: a rectification of an earlier finding arrives after the new
    finding; by event time it came before it, so the new sequence still completes."""
    eng = engine(SEQUENCE, lateness_ms=3 * DAY)
    out = feed(
        eng,
        [
            step(2, FINDING[0], **FINDING[1]),
            step(1, "inspection.rectified"),  # dated a day before the finding, arriving late
            step(3, "notice.sent", kind="penalty"),
            step(4, "enterprise.dereg"),
        ],
    )
    assert [len(w.evidence) for w in out] == [3]


def test_sequence_keeps_the_latest_start_and_starts_afresh_after_a_match():
    eng = engine(SEQUENCE)
    events = [
        step(0, FINDING[0], **FINDING[1]),
        step(8, FINDING[0], **FINDING[1]),
        step(9, "notice.sent", kind="penalty"),
        step(12, "enterprise.dereg"),
        step(13, "enterprise.dereg"),
    ]
    out = feed(eng, events)
    assert [w.value for w in out] == [4 * 86400.0]  # from day 8; day 0 would be too old
    assert eng.key_count() == 0


def test_sequence_partials_expire():
    eng = engine(SEQUENCE)
    feed(eng, [step(0, FINDING[0], **FINDING[1])])
    assert eng.key_count() == 1
    eng.advance_to(T0 + 11 * DAY)
    assert eng.key_count() == 0
