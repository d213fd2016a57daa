"""Per-key features on event time, with literal timestamps (UTC+8 local time)."""

from __future__ import annotations

import json
import math
import pickle
from typing import Any

import pytest
from detectors_fixtures import make_event

from detectors.features import FEATURES, GAP_CAP_S, FeatureExtractor, UnknownFeature

MON_0915 = 1772414100000  # 2026-03-02T09:15:00+08:00, Monday
MON_0000 = 1772380800000  # 2026-03-02T00:00:00+08:00 (Sunday 16:00 UTC)
MON_0600 = 1772402400000  # 2026-03-02T06:00:00+08:00
MON_1800 = 1772445600000  # 2026-03-02T18:00:00+08:00
SAT_0000 = 1772208000000  # 2026-02-28T00:00:00+08:00, Saturday
HOUR = 3_600_000


def one(name: str, ts_ms: int, **event) -> float:
    return FeatureExtractor([name]).extract({}, ts_ms, make_event(ts_ms, **event))[name]


@pytest.mark.parametrize(
    ("ts_ms", "sin", "cos"),
    [(MON_0000, 0.0, 1.0), (MON_0600, 1.0, 0.0), (MON_1800, -1.0, 0.0)],
)
def test_hour_of_day_is_local_time(ts_ms: int, sin: float, cos: float) -> None:
    assert one("hour_sin", ts_ms) == pytest.approx(sin, abs=1e-12)
    assert one("hour_cos", ts_ms) == pytest.approx(cos, abs=1e-12)


def test_hour_is_fractional() -> None:
    assert one("hour_sin", MON_0915) == pytest.approx(0.6593458151)  # sin(2π·9.25/24)


@pytest.mark.parametrize(
    ("ts_ms", "night"),
    [(MON_0000, 1.0), (MON_0600 - 1, 1.0), (MON_0600, 0.0), (MON_0000 - 1, 0.0), (MON_0915, 0.0)],
)
def test_is_night_is_midnight_to_six_local(ts_ms: int, night: float) -> None:
    assert one("is_night", ts_ms) == night


@pytest.mark.parametrize(
    ("ts_ms", "weekend"),
    [(SAT_0000 - 1, 0.0), (SAT_0000, 1.0), (MON_0000 - 1, 1.0), (MON_0000, 0.0), (MON_0915, 0.0)],
)
def test_is_weekend_uses_the_local_date(ts_ms: int, weekend: float) -> None:
    assert one("is_weekend", ts_ms) == weekend


def test_count_1h_is_exact_over_the_hour_edge() -> None:
    fx = FeatureExtractor(["count_1h"])
    state: dict = {}
    times = [MON_0915, MON_0915 + 1_800_000, MON_0915 + HOUR - 1, MON_0915 + HOUR]
    times += [MON_0915 + 1_800_000 + HOUR - 1, MON_0915 + 1_800_000 + HOUR, MON_0915 + 5 * HOUR]
    counts = [fx.extract(state, t, make_event(t))["count_1h"] for t in times]
    # the 4th no longer sees the 1st (exactly one hour old); the 6th no longer sees the 2nd
    assert counts == [1.0, 2.0, 3.0, 3.0, 4.0, 4.0, 1.0]


def test_count_1h_of_a_late_event_counts_only_its_own_past_hour() -> None:
    fx = FeatureExtractor(["count_1h"])
    state: dict = {}
    for t in (MON_0915, MON_0915 + 600_000):
        fx.extract(state, t, make_event(t))
    late = MON_0915 + 300_000
    assert fx.extract(state, late, make_event(late))["count_1h"] == 2.0
    assert state["times"] == [MON_0915, late, MON_0915 + 600_000]


def test_gap_log_s_of_a_late_event_is_to_the_event_before_it() -> None:
    fx = FeatureExtractor(["gap_log_s"])
    state: dict = {}
    for t in (MON_0915, MON_0915 + 600_000):
        fx.extract(state, t, make_event(t))
    late = MON_0915 + 300_000
    assert fx.extract(state, late, make_event(late))["gap_log_s"] == math.log1p(300)
    too_late = MON_0915 - 60_000  # before anything the key remembers
    assert fx.extract(state, too_late, make_event(too_late))["gap_log_s"] == math.log1p(GAP_CAP_S)


def test_gap_log_s_is_seconds_since_the_previous_event_of_the_key() -> None:
    fx = FeatureExtractor(["gap_log_s"])
    state: dict = {}
    gaps = [
        fx.extract(state, t, make_event(t))["gap_log_s"]
        for t in (MON_0915, MON_0915 + 90_000, MON_0915 + 90_000, MON_0915 + 30 * 24 * HOUR)
    ]
    first_ever = capped = math.log1p(GAP_CAP_S)
    assert gaps == [first_ever, math.log1p(90), 0.0, capped]


def test_distinct_1h_counts_values_of_a_field_in_the_last_hour() -> None:
    fx = FeatureExtractor(["distinct_1h:attrs.citizen"])
    state: dict = {}
    seq = [(0, "a"), (60_000, "b"), (120_000, "a"), (180_000, None), (HOUR + 60_000, "c")]
    got = [
        fx.extract(state, MON_0915 + dt, make_event(MON_0915 + dt, citizen=c))[
            "distinct_1h:attrs.citizen"
        ]
        for dt, c in seq
    ]
    # the last: "b" (seen at +1 min) is exactly an hour old and drops out; "a" (+2 min) stays
    assert got == [1.0, 2.0, 2.0, 2.0, 2.0]


def test_distinct_1h_a_late_repeat_does_not_age_a_value() -> None:
    fx = FeatureExtractor(["distinct_1h:attrs.citizen"])
    state: dict = {}
    for dt, citizen in [(0, "x"), (1_800_000, "a"), (300_000, "a")]:  # the last one is late
        fx.extract(state, MON_0915 + dt, make_event(MON_0915 + dt, citizen=citizen))
    t = MON_0915 + HOUR + 600_000  # "a" was last seen 40 minutes before, "x" 70
    assert fx.extract(state, t, make_event(t, citizen="b"))["distinct_1h:attrs.citizen"] == 2.0


def test_distinct_1h_stays_exact_after_a_late_event() -> None:
    fx = FeatureExtractor(["distinct_1h:attrs.citizen"])
    state: dict = {}
    seq = [(0, "a"), (600_000, "b"), (-2_700_000, "c"), (1_200_000, "d")]  # "c" is 55 min late
    got = [
        fx.extract(state, MON_0915 + dt, make_event(MON_0915 + dt, citizen=c))[
            "distinct_1h:attrs.citizen"
        ]
        for dt, c in seq
    ]
    # "d" at +20 min sees a, b and itself; "c" (-45 min) is more than an hour older
    assert got[-1] == 3.0


def test_distinct_1h_keeps_hashes_not_values() -> None:
    fx = FeatureExtractor(["distinct_1h:attrs.citizen"])
    state: dict = {}
    fx.extract(state, MON_0915, make_event(MON_0915, citizen="330106199001011234"))
    assert b"330106199001011234" not in pickle.dumps(state)


def test_per_key_state_is_bounded_in_a_flood() -> None:
    fx = FeatureExtractor(["count_1h", "gap_log_s", "distinct_1h:attrs.citizen"])
    state: dict = {}
    for i in range(5000):  # one read every 100 ms: 5,000 in 8 minutes, all different
        t = MON_0915 + i * 100
        x = fx.extract(state, t, make_event(t, citizen=f"c-{i}"))
    assert x["count_1h"] == fx.max_events == 1000
    assert x["distinct_1h:attrs.citizen"] == fx.max_distinct == 1000
    assert len(state["times"]) == 1000
    assert len(pickle.dumps(state)) < 40_000
    later = MON_0915 + 3 * HOUR
    fx.extract(state, later, make_event(later, citizen="c-x"))
    assert state["times"] == [later]
    assert len(state["distinct"]["attrs.citizen"]) == 1


def test_value_feature_reads_a_numeric_field_or_is_left_out() -> None:
    fx = FeatureExtractor(["value:attrs.records", "is_night"])
    ev = make_event(MON_0915)
    assert fx.extract({}, MON_0915, ev) == {"is_night": 0.0}
    with_records = ev.__class__.from_dict({**ev.to_dict(), "attrs": {**ev.attrs, "records": 1200}})
    assert fx.extract({}, MON_0915, with_records) == {
        "value:attrs.records": 1200.0,
        "is_night": 0.0,
    }


@pytest.mark.parametrize("codec", [pickle, json], ids=["pickle", "json"])
def test_state_round_trips_and_continues_identically(codec: Any) -> None:
    fx = FeatureExtractor(["count_1h", "gap_log_s", "distinct_1h:attrs.citizen"])
    state: dict = {}
    for i in range(50):
        t = MON_0915 + i * 97_000
        fx.extract(state, t, make_event(t, citizen=f"c-{i % 7}"))
    clone = codec.loads(codec.dumps(state))
    for i in range(50, 60):
        t = MON_0915 + i * 97_000
        ev = make_event(t, citizen=f"c-{i % 9}")
        assert fx.extract(clone, t, ev) == fx.extract(state, t, ev)
    assert clone == state


def test_caller_entries_in_the_key_state_are_left_alone() -> None:
    state = {"__last_flag_ms": 5}
    FeatureExtractor(["count_1h"]).extract(state, MON_0915, make_event(MON_0915))
    assert state["__last_flag_ms"] == 5


def test_output_follows_the_named_order_without_duplicates() -> None:
    fx = FeatureExtractor(["is_night", "count_1h", "is_night"])
    assert list(fx.extract({}, MON_0915, make_event(MON_0915))) == ["is_night", "count_1h"]


def test_unknown_feature_names_the_known_ones() -> None:
    with pytest.raises(UnknownFeature, match="unknown feature 'count_24h'") as info:
        FeatureExtractor(["hour_sin", "count_24h"])
    assert isinstance(info.value, ValueError)
    for name in FEATURES:
        assert name in str(info.value)
    assert "distinct_1h:<field>" in str(info.value)


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("distinct_1h", "feature 'distinct_1h' needs a field: write 'distinct_1h:<field>'"),
        ("distinct_1h:", "needs a field"),
        ("count_1h:attrs.x", "feature 'count_1h' takes no argument: write 'count_1h'"),
    ],
)
def test_parameterised_names_parse_as_name_colon_arg(name: str, fragment: str) -> None:
    with pytest.raises(UnknownFeature, match=fragment):
        FeatureExtractor([name])


def test_a_single_string_is_not_a_list_of_features() -> None:
    with pytest.raises(UnknownFeature, match=r"like \['count_1h'\]"):
        FeatureExtractor("count_1h")  # type: ignore[arg-type]


def test_count_8h_and_1d_count_the_key_s_events_per_clock_hour_over_their_horizon() -> None:
    fx = FeatureExtractor(["count_1h", "count_8h", "count_1d"])
    state: dict = {}
    t0 = 1772413200000  # 09:00 +08:00, on the hour
    hour = 3_600_000
    times = [t0 + i * hour // 2 for i in range(40)]  # two events an hour for 20 hours
    xs = [fx.extract(state, t, make_event(t)) for t in times]
    assert [xs[i]["count_8h"] for i in (0, 1, 2, 15, 16, 39)] == [1, 2, 3, 16, 15, 16]
    assert xs[39]["count_1d"] == 40 and xs[39]["count_1h"] == 2
    later = t0 + 30 * hour  # ten hours after the last one: the 8 h horizon is empty
    assert fx.extract(state, later, make_event(later))["count_8h"] == 1.0


def test_distinct_8h_sums_each_clock_hour_s_distinct_values() -> None:
    fx = FeatureExtractor(["distinct_1h:attrs.citizen", "distinct_8h:attrs.citizen"])
    state: dict = {}
    t0, minute = 1772413200000, 60_000
    x = {}
    for hour in range(3):  # 3 hours, 10 citizens each, each read twice in its hour
        for i in range(20):
            t = t0 + hour * 60 * minute + i * 2 * minute
            x = fx.extract(state, t, make_event(t, citizen=f"c{hour}-{i % 10}"))
    assert x["distinct_8h:attrs.citizen"] == 30.0 and x["distinct_1h:attrs.citizen"] <= 20
    again = t0 + 3 * 60 * minute  # the next hour, a citizen of the hour before: new there
    y = fx.extract(state, again, make_event(again, citizen="c2-0"))
    assert y["distinct_8h:attrs.citizen"] == 31.0
    assert json.loads(json.dumps(state)) == state  # the state stays JSON-safe
