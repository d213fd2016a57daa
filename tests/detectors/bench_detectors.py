"""Benchmark: µs per event and pickled size for every registered detector, the feature
extractor and the adaptive threshold. Prints figures; asserts nothing.

Run: ``python tests/detectors/bench_detectors.py [events]`` (default 20,000 events).
"""

from __future__ import annotations

import pickle
import random
import sys
import time

from detectors_fixtures import FEATURE_NAMES, labelled_events, labelled_features

from detectors import registry
from detectors.features import FeatureExtractor
from detectors.thresholds import AdaptiveThreshold


def _cycle(items: list, n: int) -> list:
    return [items[i % len(items)] for i in range(n)]


def bench_detector(name: str, xs: list[dict[str, float]], **params: object) -> tuple[float, int]:
    det = registry.make(name, **params)
    start = time.perf_counter()
    for x in xs:
        det.score_one(x)
        det.learn_one(x)
    us = (time.perf_counter() - start) / len(xs) * 1e6
    return us, len(pickle.dumps(det))


def bench_features(n: int) -> tuple[float, int]:
    events = _cycle([ev for ev, _ in labelled_events()], n)
    fx = FeatureExtractor(FEATURE_NAMES)
    states: dict[str, dict] = {}
    start = time.perf_counter()
    for ev in events:
        fx.extract(states.setdefault(ev.entity_id, {}), ev.ts_ms, ev)
    us = (time.perf_counter() - start) / n * 1e6
    return us, max(len(pickle.dumps(s)) for s in states.values())


def bench_threshold(n: int) -> tuple[float, int]:
    rng = random.Random(1)
    scores = [rng.random() for _ in range(n)]
    thr = AdaptiveThreshold()
    start = time.perf_counter()
    for s in scores:
        thr.classify(s)
        thr.update(s)
    return (time.perf_counter() - start) / n * 1e6, len(pickle.dumps(thr))


def main(n: int = 20_000) -> None:
    xs = _cycle([x for x, _ in labelled_features()], n)
    three = [{k: x[k] for k in ("hour_sin", "count_1h", "gap_log_s")} for x in xs]
    print(f"{n:,} events, score_one + learn_one, default parameters")
    print(f"{'what':<34}{'µs/event':>10}{'pickled bytes':>15}")
    for name in registry.names():
        for label, data in ((f"{len(FEATURE_NAMES)} features", xs), ("3 features", three)):
            us, size = bench_detector(name, data)
            print(f"{name + ' (' + label + ')':<34}{us:>10.1f}{size:>15,}")
    us, size = bench_detector("hst", xs, scaler_window=1000)
    print(f"{'hst scaler_window=1000 (7 feat.)':<34}{us:>10.1f}{size:>15,}")
    us, size = bench_features(n)
    print(f"{'FeatureExtractor.extract (7 feat.)':<34}{us:>10.1f}{size:>15,}  (largest key state)")
    us, size = bench_threshold(n)
    print(f"{'AdaptiveThreshold classify+update':<34}{us:>10.1f}{size:>15,}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)
