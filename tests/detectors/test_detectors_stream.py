"""The single-stream API: one detector by name, likelihood scores in [0, 1], one alert per
anomaly, no flood on flat or bursty streams, a lasting new level learned as normal."""

from __future__ import annotations

import math
import pickle
import random

import pytest

from detectors.stream import StreamDetector

T0, STEP = 1772413200000, 300_000  # 2026-03-02 09:00 +08:00, every 5 minutes


def flags_of(sd: StreamDetector, values: list[float], step_ms: int = STEP) -> list[int]:
    return [i for i, v in enumerate(values) if sd.update({"value": v}, T0 + i * step_ms)[1]]


def seasonal(rng: random.Random, n: int, level: float = 100.0, noise: float = 2.0) -> list[float]:
    return [level + 3 * math.sin(2 * math.pi * i / 288) + rng.gauss(0, noise) for i in range(n)]


def test_a_spike_in_a_seasonal_stream_is_flagged_once_where_it_is() -> None:
    values = seasonal(random.Random(11), 4000)
    values[3000] += 30.0  # 15 standard deviations of the noise
    flags = flags_of(StreamDetector(), values)
    assert 3000 in flags and len(flags) <= 2, flags


def test_a_stream_without_anomalies_raises_about_one_alert_in_4000_samples_or_fewer() -> None:
    alerts = [len(flags_of(StreamDetector(), seasonal(random.Random(s), 5000))) for s in (1, 2, 3)]
    # 15,000 samples; 5 minutes apart, that is 52 days (the roughness, which sees a trend and
    # a changed shape, costs about one alert of these)
    assert sum(alerts) <= 5, alerts
    assert max(alerts) <= 2, alerts


def test_a_lasting_level_shift_alerts_at_the_shift_and_then_becomes_normal() -> None:
    rng = random.Random(5)
    values = [rng.gauss(0, 1) for _ in range(1000)] + [rng.gauss(10, 1) for _ in range(1000)]
    flags = flags_of(StreamDetector(), values, step_ms=3_600_000)  # hourly
    assert flags and flags[0] == 1000
    # no lock-in: the new level is normal after half the robust window (150 samples)
    assert all(1000 <= i < 1150 for i in flags) and len(flags) <= 3, flags


def test_a_flat_stream_that_starts_to_wobble_does_not_flood() -> None:
    rng = random.Random(7)
    values = [5.0] * 2000 + [5.0 + rng.gauss(0, 1e-3) for _ in range(2000)]
    assert len(flags_of(StreamDetector(), values)) <= 1


def test_a_bursty_counter_is_not_flagged_for_its_ordinary_bursts() -> None:
    rng = random.Random(9)
    values = [0.0 if rng.random() < 0.9 else rng.expovariate(1 / 1e6) for _ in range(4000)]
    assert len(flags_of(StreamDetector(), values)) <= 2


def test_scores_are_probabilities_and_mean_the_same_at_any_scale() -> None:
    values = seasonal(random.Random(13), 3000)
    values[2500] -= 25.0
    small, large = StreamDetector(), StreamDetector()
    for i, v in enumerate(values):
        s1, f1 = small.update(v, T0 + i * STEP)
        s2, f2 = large.update(v * 1e6, T0 + i * STEP)
        assert 0.0 <= s1 <= 1.0 and f1 == f2
        assert s1 == pytest.approx(s2, abs=1e-6)


def test_a_pickled_stream_detector_goes_on_exactly_like_the_original() -> None:
    rng = random.Random(17)
    values = seasonal(rng, 1500)
    sd = StreamDetector()
    flags_of(sd, values[:1000])
    clone = pickle.loads(pickle.dumps(sd))
    for i, v in enumerate(values[1000:], start=1000):
        assert sd.update(v, T0 + i * STEP) == clone.update(v, T0 + i * STEP)


def test_the_cooldown_keeps_one_anomaly_to_one_alert() -> None:
    values = seasonal(random.Random(19), 3000)
    for i in range(2000, 2004):  # four wild points in 20 minutes
        values[i] += 40.0
    flags = flags_of(StreamDetector(), values)
    assert [i for i in flags if 1990 <= i < 2012] == [2000], flags  # one alert in the hour
    no_cooldown = StreamDetector(cooldown_ms=0, cooldown_samples=0)
    assert [i for i in flags_of(no_cooldown, values) if i >= 2000][:2] == [
        2000,
        2001,
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"detector": "nope"}, "unknown detector 'nope'"),
        ({"threshold": 0}, "threshold must be a number in (0, 1]"),
        ({"cooldown_ms": -1}, "cooldown_ms must be a whole number >= 0"),
        ({"sustained": 1.5}, "sustained must be a whole number >= 0"),
        ({"cooldown_samples": -3}, "cooldown_samples must be a whole number >= 0"),
        ({"window": 0}, "window must be a whole number > 0"),
    ],
)
def test_bad_parameters_say_what_is_wrong(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("]", r"\]")):
        StreamDetector(**kwargs)  # type: ignore[arg-type]


def test_the_readme_example_runs_and_flags_the_one_odd_value(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    code = readme.split("## Detectors", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    exec(compile(code, "README.md", "exec"), {})
    printed = capsys.readouterr().out.split()
    assert printed[:2] == [str(1772413200000 + 600 * 300_000), "25.0"]
    assert len(printed) == 3 and float(printed[2]) >= 0.9999


def test_a_constant_stream_never_alerts() -> None:
    assert flags_of(StreamDetector(), [42.0] * 5000) == []
    assert flags_of(StreamDetector(), [0.0] * 5000) == []


def test_a_value_frozen_inside_the_normal_range_is_flagged_within_an_hour() -> None:
    values = seasonal(random.Random(23), 4000)
    for i in range(3000, 3200):  # a stuck sensor: every value ordinary, the spread gone
        values[i] = values[2999]
    flags = flags_of(StreamDetector(), values)
    assert [i for i in flags if 3000 <= i < 3012], flags


def test_a_jump_inside_the_normal_range_is_flagged_where_it_happens() -> None:
    rng = random.Random(29)
    values = [100 + 20 * math.sin(2 * math.pi * i / 288) + rng.gauss(0, 1) for i in range(4000)]
    values[3096] = values[3095] + 18  # at the day's low (80): inside its range, 18 deviations up
    flags = flags_of(StreamDetector(), values)
    assert 3096 in flags
    assert flags_of(StreamDetector(derive=False), values) == []  # the value alone cannot see it


def test_a_persisting_new_level_is_normal_after_half_the_window() -> None:
    rng = random.Random(31)
    values = [rng.gauss(50, 2) for _ in range(2000)] + [rng.gauss(60, 2) for _ in range(3000)]
    flags = flags_of(StreamDetector(), values)
    assert flags and 2000 <= flags[0] < 2012
    # normal after robust's window / 2 = 150 samples: what follows is the clean streams' rate
    assert len([i for i in flags if i >= 2000 + 150]) <= 1, flags


def test_explain_names_the_features_that_made_the_score() -> None:
    rng = random.Random(37)
    sd = StreamDetector()
    for i in range(3000):
        sd.update(100 + rng.gauss(0, 1), T0 + i * STEP)
    score, flagged = sd.update(100.0 + 30, T0 + 3000 * STEP)
    why = sd.explain()
    assert flagged and why["score"] == score and why["threshold"] == 0.9999
    assert why["features"]["value"] == 130.0 and "value.diff" in why["features"]
    assert {t["feature"] for t in why["top"][:2]} <= {"value", "value.diff", "value.season"}
    assert why["top"][0]["score"] == score


def test_the_roughness_tells_zig_zag_and_drift_from_noise_inside_the_same_range() -> None:
    from detectors.derive import Derive

    rng = random.Random(31)

    def rough_after(values: list[float]) -> float:
        d = Derive()
        x: dict[str, float] = {}
        for i, v in enumerate(values):
            x = d.update({"value": v}, T0 + i * STEP)
        return x["value.rough"]

    noise = rough_after([10 + rng.gauss(0, 1) for _ in range(300)])
    zigzag = rough_after([10 + rng.gauss(0, 1) for _ in range(200)] + [11.5, 8.5] * 50)
    drift = rough_after(
        [10 + rng.gauss(0, 1) for _ in range(200)] + [8 + i * 0.04 for i in range(100)]
    )
    assert 0.9 < noise < 1.4 and zigzag > 1.8 and drift < 0.7, (noise, zigzag, drift)
    d = Derive()
    flat = [d.update({"value": 3.0}, T0 + i * STEP) for i in range(100)][-1]
    assert "value.rough" not in flat  # no spread, no shape


@pytest.mark.parametrize("kind", ["step down", "counter step up", "mostly-zero counter"])
def test_standard_streams_do_not_flood_and_a_lasting_step_does_not_lock_in(kind: str) -> None:
    rng = random.Random(41)
    if kind == "step down":
        values = [rng.gauss(50, 2) for _ in range(2000)] + [rng.gauss(40, 2) for _ in range(2000)]
    elif kind == "counter step up":  # events per 5 minutes, from about 4 to about 12
        values = [float(sum(rng.random() < 0.2 for _ in range(20))) for _ in range(2000)]
        values += [float(sum(rng.random() < 0.6 for _ in range(20))) for _ in range(2000)]
    else:  # a counter that is 0 most of the time, now and then a few
        values = [float(rng.randint(1, 3)) if rng.random() < 0.05 else 0.0 for _ in range(4000)]
    flags = flags_of(StreamDetector(), values)
    if kind == "mostly-zero counter":
        assert len(flags) <= 3, flags  # under one alert in 1,000 samples
    else:
        before, after = [i for i in flags if i < 2000], [i for i in flags if i >= 2000]
        assert len(before) <= 1, flags  # about one false alarm in 4,000 samples at most
        assert after and after[0] < 2012, flags  # the step is seen within an hour
        assert len(after) <= 3 and after[-1] < 2000 + 150, flags  # then it is normal


def test_a_stretch_of_moderately_high_values_is_flagged_early_by_its_mean() -> None:
    rng = random.Random(23)
    values = [100.0 + rng.gauss(0, 2.0) for _ in range(3000)]
    for i in range(2000, 2012):  # an hour at about 2.5 standard deviations, none of it wild
        values[i] = 105.0 + rng.gauss(0, 0.5)
    alone = [i for i in flags_of(StreamDetector(sustained=0), values) if i >= 1990]
    flags = [i for i in flags_of(StreamDetector(), values) if i >= 1990]
    assert not [i for i in alone if i < 2008], alone  # each value alone is ordinary enough
    assert flags and 2000 <= flags[0] < 2008, flags  # within 40 minutes of the stretch


def test_a_slow_stream_is_not_alerted_on_every_sample_of_one_episode() -> None:
    rng = random.Random(29)
    values = [50.0 + rng.gauss(0, 1.0) for _ in range(1500)]
    for i in range(1200, 1206):  # six wild hours in a row
        values[i] += 25.0
    hourly = 3_600_000
    flags = [i for i in flags_of(StreamDetector(), values, hourly) if 1195 <= i < 1220]
    assert flags == [1200], flags
    every = flags_of(StreamDetector(cooldown_samples=0), values, hourly)
    assert len([i for i in every if 1200 <= i < 1206]) > 1, every


def test_a_level_shift_alerts_once_then_stops_and_noise_after_flat_does_not_flood() -> None:
    rng = random.Random(31)
    shift = [10.0 + rng.gauss(0, 1.0) for _ in range(2000)]
    shift += [25.0 + rng.gauss(0, 1.0) for _ in range(2000)]
    flags = flags_of(StreamDetector(), shift)
    assert [i for i in flags if i >= 2000][:1] == [2000], flags
    assert len([i for i in flags if i >= 2000]) <= 2, flags
    flat_then_noise = [5.0] * 1500 + [5.0 + rng.gauss(0, 0.5) for _ in range(2500)]
    assert len(flags_of(StreamDetector(), flat_then_noise)) <= 3
