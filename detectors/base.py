"""The one small interface every detector implements, and what all of them share.

A detector turns a feature dict into an anomaly score: **higher means more anomalous**.
It learns online, one sample at a time, and its whole state pickles (that is how the engine
checkpoints it). Deciding whether a score is an anomaly is not the detector's job: see
:class:`detectors.thresholds.AdaptiveThreshold`.

Contract (checked for every registered detector by ``tests/detectors``):

- ``score_one`` returns a finite ``float``, even before any learning;
- features that are new, missing, non-numeric or not finite never raise;
- the input dict is never mutated;
- a pickled-and-restored detector scores exactly like the original;
- the same parameters (and seed) give the same scores; the state stays bounded.

Examples:
    >>> from detectors.registry import make
    >>> det = make("gaussian")
    >>> isinstance(det, Detector)
    True
    >>> for v in (1.0, 2.0, 3.0, 2.0):
    ...     det.learn_one({"v": v})
    >>> clone = restore(snapshot(det))
    >>> clone.score_one({"v": 9.0}) == det.score_one({"v": 9.0}) > det.score_one({"v": 2.0})
    True
"""

from __future__ import annotations

import math
import pickle
from typing import Any, Protocol, runtime_checkable

# A detector keeps statistics for at most this many distinct feature names; later new names
# are ignored, so a caller that invents names cannot grow a model without bound.
MAX_FEATURES = 64


@runtime_checkable
class Detector(Protocol):
    """An online anomaly detector: ``score_one`` gives higher scores to more anomalous ``x``.

    Any object with these two methods is one (structural typing, no base class needed).

    Examples:
        >>> from detectors.registry import make
        >>> isinstance(make("hst"), Detector), isinstance(object(), Detector)
        (True, False)
    """

    def learn_one(self, x: dict[str, float]) -> None:
        """Update the model with one sample (the caller decides whether it was normal)."""
        ...

    def score_one(self, x: dict[str, float]) -> float:
        """Anomaly score of ``x``, a finite float; higher = more anomalous. Does not learn."""
        ...


def numeric_features(x: dict[str, Any]) -> dict[str, float]:
    """The finite numeric entries of ``x`` as floats; everything else is left out.

    Bad input is data, not a crash: strings, ``None``, NaN and infinities are dropped.
    The argument is not modified.

    Examples:
        >>> numeric_features({"a": 1, "b": 2.5, "c": "x", "d": None, "e": float("nan")})
        {'a': 1.0, 'b': 2.5}
    """
    out: dict[str, float] = {}
    for name, value in x.items():
        if type(value) is float:  # the common case, checked first: x - x is 0 when finite
            if value - value == 0.0:
                out[name] = value
        elif isinstance(value, int | float):
            v = float(value)
            if math.isfinite(v):
                out[name] = v
    return out


def snapshot(detector: Detector) -> bytes:
    """The detector's full state as bytes (pickle); :func:`restore` turns it back.

    Snapshots are the engine's own checkpoints: never restore bytes from an untrusted source.

    Examples:
        >>> from detectors.registry import make
        >>> type(restore(snapshot(make("gaussian")))).__name__
        'GaussianDetector'
    """
    return pickle.dumps(detector, protocol=pickle.HIGHEST_PROTOCOL)


def restore(blob: bytes) -> Detector:
    """A detector from :func:`snapshot` bytes; TypeError if the bytes hold something else.

    Examples:
        >>> restore(pickle.dumps({"not": "a detector"}))
        Traceback (most recent call last):
        ...
        TypeError: snapshot holds a dict, not a detector (learn_one/score_one)
    """
    obj = pickle.loads(blob)
    if not isinstance(obj, Detector):
        raise TypeError(
            f"snapshot holds a {type(obj).__name__}, not a detector (learn_one/score_one)"
        )
    return obj


def contributions(detector: Detector, x: dict[str, Any]) -> dict[str, float]:
    """How much each feature of ``x`` adds to ``detector``'s score, largest first.

    A detector that scores features one by one (``score_features``: ``robust``,
    ``gaussian``, ``seasonal``, ``profile``) says so itself; for any other, a feature's
    share is how much the score drops when that feature is left out.

    Examples:
        >>> from detectors.registry import make
        >>> det = make("gaussian")
        >>> for v in (1.0, 2.0, 3.0, 2.0):
        ...     det.learn_one({"a": v, "b": 10 * v})
        >>> {k: round(v, 2) for k, v in contributions(det, {"a": 2.0, "b": 60.0}).items()}
        {'b': 5.66, 'a': 0.0}
        >>> hst = make("hst", window_size=10)
        >>> sorted(contributions(hst, {"a": 1.0, "b": 2.0}))  # left out one at a time
        ['a', 'b']
    """
    clean = numeric_features(x)
    per = getattr(detector, "score_features", None)
    if per is not None:
        shares: dict[str, float] = per(clean)
    else:
        full = detector.score_one(clean)
        shares = {
            name: full - detector.score_one({k: v for k, v in clean.items() if k != name})
            for name in clean
        }
    return dict(sorted(shares.items(), key=lambda kv: (-kv[1], kv[0])))
