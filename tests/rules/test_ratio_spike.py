"""ratio and spike rules on literal timestamps."""

from __future__ import annotations

from rule_factories import DAY, HOUR, MIN, T0, engine, ev, feed

RATIO = """
id: rejections
title: rejections
type: ratio
match: {type: application.decided}
numerator: {attrs.decision: rejected}
group_by: [attrs.official]
window: 1d
condition: {gte: 0.5}
min_denominator: 4
resolve: {on: cleared}
"""


def decided(ts: int, decision: str, official: str = "o1"):
    return ev(ts, "application.decided", official=official, decision=decision)


def test_ratio_needs_the_minimum_denominator():
    eng = engine(RATIO)
    assert (
        feed(
            eng,
            [
                decided(T0, "rejected"),
                decided(T0 + MIN, "rejected"),
                decided(T0 + 2 * MIN, "rejected"),
            ],
        )
        == []
    )
    [w] = eng.process(decided(T0 + 3 * MIN, "approved"))
    assert w.value == 0.75 and w.stage == "fired"


def test_ratio_resolves_when_the_share_falls():
    eng = engine(RATIO)
    feed(eng, [decided(T0 + i * MIN, "rejected") for i in range(4)])
    out = feed(eng, [decided(T0 + (4 + i) * MIN, "approved") for i in range(5)])
    assert [(w.stage, w.value) for w in out] == [("resolved", 4 / 9)]


def test_ratio_keys_are_separate():
    eng = engine(RATIO)
    out = feed(eng, [decided(T0 + i * MIN, "rejected", official=f"o{i % 2}") for i in range(6)])
    assert out == []  # three each, below the minimum denominator


SPIKE = """
id: surge
title: surge
type: spike
match: {type: hotline.ticket}
group_by: [attrs.category]
window: 1h
direction: DIRECTION
condition: {ratio_gte: 3, current_gte: CURRENT, reference_gte: 2}
"""


def tickets(start: int, n: int, every_ms: int, category: str = "noise"):
    return [ev(start + i * every_ms, "hotline.ticket", category=category) for i in range(n)]


def spike(direction: str = "up", cur: int = 6, extra: str = "") -> str:
    return SPIKE.replace("DIRECTION", direction).replace("CURRENT", str(cur)) + extra


def test_spike_up_fires_once_against_the_previous_window():
    eng = engine(spike())
    base = tickets(T0 - 2 * HOUR, 4, 30 * MIN)  # two an hour for two hours
    burst = tickets(T0, 12, 4 * MIN)
    out = feed(eng, base + burst)
    assert len(out) == 1
    w = out[0]
    assert w.value >= 6 and w.value >= 3 * w.details["reference"] and w.details["reference"] >= 2


def test_spike_floors_keep_tiny_numbers_quiet():
    eng = engine(spike(cur=20))
    out = feed(eng, tickets(T0 - 2 * HOUR, 4, 30 * MIN) + tickets(T0, 12, 4 * MIN))
    assert out == []  # 12 is three times the reference but under the floor of 20


def test_spike_waits_for_the_whole_reference_span():
    eng = engine(spike())
    assert feed(eng, tickets(T0, 30, MIN)) == []  # no history before the burst: not warm


def test_spike_warm_up_is_each_keys_own_so_no_other_key_decides_it():
    # Another key's older events once warmed every key of the rule: a key's answer then
    # depended on which keys shared its partition (the engine of one shard of many).
    eng = engine(spike())
    other = tickets(T0 - DAY, 1, MIN, category="other")
    young = tickets(T0 - 90 * MIN, 4, 10 * MIN)  # reference 3 >= 2, but only 90 minutes old
    burst = tickets(T0, 12, 2 * MIN)  # over by T0 + 22 min: the key is not 2 hours old yet
    assert feed(eng, other + young + burst) == []
    alone = engine(spike())
    assert feed(alone, young + burst) == []
    warmed = engine(spike())
    old_enough = tickets(T0 - 150 * MIN, 1, MIN) + young  # its own data 2.5 hours back
    assert len(feed(warmed, old_enough + burst)) == 1


def test_spike_down_fires_when_a_busy_key_goes_quiet():
    eng = engine(spike("down", cur=0))
    feed(eng, tickets(T0 - 3 * HOUR, 36, 5 * MIN))  # twelve an hour for three hours
    out = eng.advance_to(T0 + 2 * HOUR)
    assert [w.stage for w in out] == ["fired"] and out[0].value < 12 / 3


def test_spike_seasonal_reference_is_the_median_of_the_same_weekday():
    rule = spike(cur=5, extra="reference: {period: 7d, count: 3, stat: median}\nstep: 1h\n")
    eng = engine(rule)
    history = tickets(T0 - 22 * DAY, 1, MIN)  # the key's data starts here
    for week, n in ((3, 2), (2, 3), (1, 40)):  # one odd week: the median ignores it
        history += tickets(T0 - week * 7 * DAY, n, 5 * MIN)
    assert feed(eng, history) == []
    out = feed(eng, tickets(T0, 12, 2 * MIN))
    assert [(w.value, w.details["reference"]) for w in out] == [(9.0, 3)]


def test_spike_forgets_keys_after_the_history():
    eng = engine(spike())
    feed(eng, tickets(T0, 3, MIN))
    eng.advance_to(T0 + 3 * HOUR)
    assert eng.key_count() == 0
