"""riskloop detectors: online anomaly detectors on river, behind one small interface.

- :mod:`detectors.base`: the ``Detector`` protocol (``learn_one``/``score_one``, higher
  score = more anomalous) and snapshots;
- :mod:`detectors.registry`: detectors by name (``hst``, ``gaussian``), imported lazily;
- :mod:`detectors.features`: per-key features on event time (``count_1h``, ``is_night``…);
- :mod:`detectors.thresholds`: deciding, separate from scoring (``AdaptiveThreshold``).

Pure and deterministic: no Kafka, no Redis, no clock; time is the event's ``ts_ms``.

Examples:
    One rule's loop: features per key, one model, a threshold that keeps the model from
    learning what it flags.

    >>> from types import SimpleNamespace
    >>> from detectors.features import FeatureExtractor
    >>> from detectors.registry import make
    >>> from detectors.thresholds import AdaptiveThreshold
    >>> fx = FeatureExtractor(["count_1h", "gap_log_s"])
    >>> det, thr = make("gaussian"), AdaptiveThreshold(q=0.99, min_samples=50)
    >>> key_state, ev = {}, SimpleNamespace(get=lambda path: None)
    >>> start_ms = 1772413200000  # 2026-03-02 09:00 +08:00
    >>> flags = []
    >>> for i in range(300):  # one event every 10 minutes, then a burst 1 s apart
    ...     ts_ms = start_ms + (i * 600_000 if i < 290 else 289 * 600_000 + (i - 289) * 1000)
    ...     x = fx.extract(key_state, ts_ms, ev)
    ...     score = det.score_one(x)
    ...     flagged = thr.classify(score)
    ...     thr.update(score)
    ...     if not flagged:
    ...         det.learn_one(x)
    ...     flags.append(flagged)
    >>> flags.index(True), sum(flags[:290])
    (290, 0)
"""
