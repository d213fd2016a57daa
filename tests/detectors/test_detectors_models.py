"""Behaviour specific to each registered detector, beyond the shared contract."""

from __future__ import annotations

import random

import pytest

from detectors.entity import ProfileDetector
from detectors.gaussian import GaussianDetector
from detectors.hst import HalfSpaceTreesDetector


def test_gaussian_score_is_the_largest_z_in_standard_deviations() -> None:
    det = GaussianDetector()
    for a, b in [(2.0, 10.0), (4.0, 10.0)] * 50:  # a: mean 3, std 1; b: constant 10
        det.learn_one({"a": a, "b": b})
    assert det.score_one({"a": 3.0, "b": 10.0}) == 0.0
    assert det.score_one({"a": 6.0, "b": 10.0}) == pytest.approx(3.0)
    assert det.score_one({"a": 0.0, "b": 10.0}) == pytest.approx(3.0)  # two-sided
    # a constant feature has no spread: the floor (min_std=0.01) keeps the score finite
    assert det.score_one({"a": 3.0, "b": 10.5}) == pytest.approx(50.0)


def test_gaussian_does_not_judge_a_feature_seen_once() -> None:
    det = GaussianDetector()
    det.learn_one({"a": 1.0})
    assert det.score_one({"a": 1000.0}) == 0.0
    det.learn_one({"a": 3.0})
    assert det.score_one({"a": 1000.0}) > 900


def test_gaussian_one_extreme_value_does_not_hide_the_next_anomaly() -> None:
    rng = random.Random(1)
    det = GaussianDetector()
    for _ in range(500):
        det.learn_one({"count": rng.gauss(5, 1)})
    det.learn_one({"count": 1e6})  # a burst that was learned anyway
    assert det.score_one({"count": 15.0}) > 6.0


def test_gaussian_follows_a_lasting_shift() -> None:
    det = GaussianDetector(window=200)
    rng = random.Random(2)
    for _ in range(500):
        det.learn_one({"v": rng.gauss(0, 1)})
    assert det.score_one({"v": 20.0}) > 10
    for _ in range(3000):
        det.learn_one({"v": rng.gauss(20, 1)})
    # the old level is forgotten: the spread is back to the new level's own (std 1)
    assert det.score_one({"v": 20.0}) < 0.5
    assert det.score_one({"v": 23.0}) == pytest.approx(3.0, abs=0.3)


def test_hst_scores_are_zero_until_the_first_window_then_in_unit_range() -> None:
    det = HalfSpaceTreesDetector(n_trees=10, height=6, window_size=50, seed=3)
    rng = random.Random(3)
    xs = [{"a": rng.random(), "b": rng.gauss(100, 10)} for _ in range(300)]
    for x in xs[:49]:
        det.learn_one(x)
        assert det.score_one({"a": 0.5, "b": 400.0}) == 0.0
    for x in xs[49:]:
        det.learn_one(x)
    normal = sorted(det.score_one(x) for x in xs)
    outlier = det.score_one({"a": 0.5, "b": 400.0})
    assert normal[0] >= 0.0 and outlier <= 1.0
    assert outlier > normal[int(0.9 * len(normal))]  # in the top tail of what it learned


def test_hst_feature_set_is_fixed_by_the_first_learned_sample() -> None:
    det = HalfSpaceTreesDetector(n_trees=5, height=5, window_size=20, seed=3)
    for i in range(100):
        det.learn_one({"a": float(i % 10)})
    base = det.score_one({"a": 5.0})
    assert det.score_one({"a": 5.0, "later": 1e9}) == base  # a later feature is ignored
    det.learn_one({"a": 5.0, "later": 1e9})
    assert det.score_one({"a": 5.0}) == base


def test_gaussian_warmup_leaves_a_young_feature_out_of_the_score() -> None:
    det = GaussianDetector(warmup=30)
    for i in range(29):  # a count that was 1 in every sample so far
        det.learn_one({"count": 1.0, "hour": float(9 + i % 8)})
    assert det.score_one({"count": 2.0, "hour": 12.0}) < 3  # count not judged yet
    det.learn_one({"count": 1.0, "hour": 12.0})
    assert det.score_one({"count": 2.0, "hour": 12.0}) == pytest.approx(100.0)  # now it is


def test_models_saved_before_warmup_and_min_score_existed_still_restore() -> None:
    """A rule whose file did not change keeps its saved model across an upgrade."""
    import pickle

    from detectors.thresholds import AdaptiveThreshold

    det, thr = GaussianDetector(), AdaptiveThreshold(q=0.9, min_samples=3)
    for v in (1.0, 2.0, 3.0, 2.0):
        det.learn_one({"v": v})
        thr.update(v)
    del det.__dict__["warmup"], thr.__dict__["min_score"]  # as an older version pickled them
    det, thr = pickle.loads(pickle.dumps(det)), pickle.loads(pickle.dumps(thr))
    assert det.score_one({"v": 9.0}) > 5 and thr.classify(9.0)


HOLIDAY_TUE = 1791075600000  # 2026-10-06T09:00:00+08:00, National Day week (a holiday)


def _office_weeks(det, weeks: int = 4) -> None:  # type: ignore[no-untyped-def]
    """Approvals per hour: 6 an hour 09:00-17:00 on working days, none otherwise."""
    from detectors.features import FeatureExtractor

    fx = FeatureExtractor(["hour_of_day", "is_workday"])
    start = 1772380800000  # Monday 2026-03-02 00:00 +08:00
    for h in range(weeks * 7 * 24):
        ts = start + h * 3_600_000
        x = fx.extract({}, ts, None)  # type: ignore[arg-type]
        busy = 9 <= x["hour_of_day"] < 17 and x["is_workday"] == 1.0
        det.learn_one({**x, "count_1h": 6.0 + (h % 3) - 1 if busy else 0.0})


def test_seasonal_sees_the_hour_and_the_working_day() -> None:
    from detectors.seasonal import SeasonalDetector

    det = SeasonalDetector()
    _office_weeks(det)
    normal = det.score_one({"hour_of_day": 10, "is_workday": 1, "count_1h": 6.0})
    at_22 = det.score_one({"hour_of_day": 22, "is_workday": 1, "count_1h": 6.0})
    triple = det.score_one({"hour_of_day": 10, "is_workday": 1, "count_1h": 18.0})
    holiday = det.score_one({"hour_of_day": 15, "is_workday": 0, "count_1h": 6.0})
    assert normal < 1.0
    assert min(at_22, triple, holiday) > 8 * max(normal, 0.5)


def test_a_holiday_is_a_rest_day_for_the_features() -> None:
    from detectors.features import FeatureExtractor

    fx = FeatureExtractor(["hour_of_day", "is_workday"])
    assert fx.extract({}, HOLIDAY_TUE, None) == {"hour_of_day": 9.0, "is_workday": 0.0}  # type: ignore[arg-type]


def test_entity_baselines_judge_a_key_against_its_own_history() -> None:
    from detectors.entity import EntityBaselines

    eb = EntityBaselines("profile", warmup=20)
    rng = random.Random(4)
    for i in range(200):
        eb.learn_one("batch", {"distinct_1h": rng.gauss(300, 20)}, i * 3_600_000)
        eb.learn_one("clerk", {"distinct_1h": rng.gauss(3, 1)}, i * 3_600_000)
    assert eb.score_one("batch", {"distinct_1h": 310.0}) < 2  # always heavy: normal for it
    assert eb.score_one("clerk", {"distinct_1h": 35.0}) > 10  # 25-40 an hour: not for a clerk
    newcomer = eb.score_one("new", {"distinct_1h": 35.0})
    assert newcomer == eb.population.score_one({"distinct_1h": 35.0})


def test_entity_baselines_stay_under_2kb_a_key_and_expire_idle_keys() -> None:
    from detectors.entity import EntityBaselines

    eb = EntityBaselines("profile", max_keys=500, idle_ms=24 * 3_600_000)
    features = ["hour_sin", "hour_cos", "is_night", "is_workday", "count_1h", "gap_log_s"]
    for i in range(5000):
        x = {name: float((i * 7 + j) % 11) for j, name in enumerate(features)}
        eb.learn_one(f"official-{i % 800}", x, i * 60_000)
    assert len(eb.keys()) == 500  # the cap: the least recently seen evicted
    assert eb.bytes_per_key() <= 2048
    eb.learn_one("late", {"count_1h": 1.0}, 5000 * 60_000 + 25 * 3_600_000)
    assert eb.keys() == ["late"]  # everyone else idle for more than a day


def test_seasonal_per_key_stays_under_2kb() -> None:
    from detectors.entity import EntityBaselines

    eb = EntityBaselines("seasonal")
    for i in range(24 * 14 * 20):
        eb.learn_one(f"k{i % 20}", {"hour_of_day": (i // 20) % 24, "count_1h": 3.0}, i)
    assert eb.bytes_per_key() <= 2048


def _working_days(det: object, weeks: int = 2) -> None:
    """Decisions of working days only, 09:00-17:00, a count of 1-8 rising through the day."""
    for day in range(7 * weeks):
        workday = day % 7 < 5
        for hour in range(9, 17) if workday else ():
            det.learn_one({"hour_of_day": hour, "is_workday": 1, "count_8h": hour - 8.0})


def test_seasonal_quiet_after_scores_an_hour_nobody_works_as_empty() -> None:
    from detectors.seasonal import SeasonalDetector

    late = {"hour_of_day": 22, "is_workday": 1, "count_8h": 5.0}
    plain, quiet = SeasonalDetector(), SeasonalDetector(quiet_after=50)
    for det in (plain, quiet):
        _working_days(det)
    assert plain.score_one(late) < 2  # the day's average: five decisions are ordinary
    assert quiet.score_one(late) > 8  # an hour with no decision ever: five are many
    busy = {"hour_of_day": 14, "is_workday": 1, "count_8h": 6.0}
    assert quiet.score_one(busy) == plain.score_one(busy) < 2  # a known hour: unchanged
    # rest days have not been seen 50 times: their hours are not judged empty yet
    sunday = {"hour_of_day": 14, "is_workday": 0, "count_8h": 5.0}
    assert quiet.score_one(sunday) == plain.score_one(sunday) < 2


def test_seasonal_saved_before_quiet_after_restores_with_it_off() -> None:
    import pickle

    from detectors.seasonal import SeasonalDetector

    det = SeasonalDetector(quiet_after=50)
    _working_days(det)
    state = det.__getstate__()
    state["params"] = state["params"][:3]  # what an older version pickled
    old = SeasonalDetector.__new__(SeasonalDetector)
    old.__setstate__(state)
    assert old.quiet_after == 0 and old.score_one({"hour_of_day": 22, "count_8h": 5.0}) < 2
    assert pickle.loads(pickle.dumps(det)).quiet_after == 50
    with pytest.raises(ValueError, match="quiet_after must be a whole number >= 0, got -1"):
        SeasonalDetector(quiet_after=-1)


def test_profile_direction_high_scores_only_a_rise() -> None:
    from detectors.entity import ProfileDetector

    both, high = ProfileDetector(), ProfileDetector(direction="high")
    rng = random.Random(11)
    for _ in range(300):
        x = {"count_1d": rng.gauss(8, 2), "count_1h": rng.gauss(2, 0.5)}
        both.learn_one(x)
        high.learn_one(x)
    quiet, busy = {"count_1d": 0.0, "count_1h": 0.0}, {"count_1d": 24.0, "count_1h": 2.0}
    assert both.score_one(quiet) > 4  # two-sided: an empty day looks as odd as a full one
    assert high.score_one(quiet) == 0.0  # one-sided: fewer than usual is not a warning
    assert high.score_one(busy) == both.score_one(busy) > 7
    only_day = ProfileDetector(direction={"count_1d": "high"})
    for _ in range(300):
        only_day.learn_one({"count_1d": rng.gauss(8, 2), "count_1h": rng.gauss(2, 0.5)})
    scores = only_day.score_features(quiet)  # count_1h not named: scored both ways
    assert scores["count_1d"] == 0.0 and scores["count_1h"] > 3


def test_profile_direction_is_checked_and_kept_across_a_restore() -> None:
    import pickle

    from detectors.entity import ProfileDetector
    from detectors.registry import InvalidParams, make

    det = ProfileDetector(warmup=2, direction={"count_1d": "high"})
    for v in (4.0, 6.0, 4.0, 6.0):
        det.learn_one({"count_1d": v})
    clone = pickle.loads(pickle.dumps(det))
    assert clone.direction == det.direction and clone.score_one({"count_1d": 0.0}) == 0.0
    state = ProfileDetector(warmup=2).__getstate__()  # what an older version pickled
    old = ProfileDetector.__new__(ProfileDetector)
    old.__setstate__(state)
    assert old.direction == "both"
    for bad in ("up", {"count_1d": "rising"}, {}, 3):
        with pytest.raises(InvalidParams, match="direction must be both, high or low"):
            make("profile", direction=bad)


def test_profile_clip_keeps_a_burst_from_making_itself_usual() -> None:
    from detectors.entity import ProfileDetector

    plain, clipped = ProfileDetector(), ProfileDetector(clip=2)
    rng = random.Random(5)
    for _ in range(30):  # a young profile: each sample weighs 1/n
        x = {"count_1d": rng.gauss(6, 1)}
        plain.learn_one(x)
        clipped.learn_one(x)
    for burst in range(7, 19):  # a heavy day, each decision learned as it comes
        plain.learn_one({"count_1d": float(burst)})
        clipped.learn_one({"count_1d": float(burst)})
    day_end = {"count_1d": 18.0}
    assert plain.score_one(day_end) < 3  # the morning of the burst made its afternoon usual
    assert clipped.score_one(day_end) > 6


def test_profile_counts_floor_a_spread_at_the_root_of_the_mean() -> None:
    from detectors.entity import ProfileDetector

    plain, counts = ProfileDetector(warmup=3), ProfileDetector(warmup=3, counts=True)
    for det in (plain, counts):
        for _ in range(20):
            det.learn_one({"count_1d": 16.0})  # a steady 16 a day: no spread of its own
    assert plain.score_one({"count_1d": 24.0}) == 5.0  # the floor: a tenth of the mean
    assert counts.score_one({"count_1d": 24.0}) == 2.0  # sqrt(16) = 4: within chance


def _weekday_official(days: str) -> ProfileDetector:
    det = ProfileDetector(direction="high", counts=True, clip=2, days=days)
    for i in range(60):  # working days: 3-6 decisions in the last 8 hours
        det.learn_one({"count_8h": 3.0 + i % 4, "is_workday": 1.0})
    return det


def test_profile_judges_a_rest_day_against_the_keys_own_rest_days() -> None:
    """Five decisions on a rest-day afternoon are ordinary for an official's working day,
    far out for one who has never decided on a rest day; one or two are not."""
    afternoon = {"count_8h": 5.0, "is_workday": 0.0}
    assert _weekday_official("all").score_one(afternoon) < 1
    rest = _weekday_official("rest")
    assert rest.score_one(afternoon) > 6
    assert rest.score_one({"count_8h": 2.0, "is_workday": 0.0}) < 4.5
    assert rest.score_one({"count_8h": 9.0, "is_workday": 1.0}) == 0.0
    for count in (1.0, 2.0, 1.0, 2.0):  # weekend duty: a rest-day history of its own
        rest.learn_one({"count_8h": count, "is_workday": 0.0})
    assert rest.score_one({"count_8h": 2.0, "is_workday": 0.0}) < 2
    apart = _weekday_official("apart")
    assert apart.score_one({"count_8h": 30.0, "is_workday": 1.0}) > 6


def test_profile_days_is_checked_and_kept_across_a_pickle() -> None:
    import pickle

    with pytest.raises(ValueError, match="days must be all, apart or rest, got 'weekend'"):
        ProfileDetector(days="weekend")
    rest = _weekday_official("rest")
    clone = pickle.loads(pickle.dumps(rest))
    x = {"count_8h": 5.0, "is_workday": 0.0}
    assert clone.score_one(x) == rest.score_one(x) > 6
