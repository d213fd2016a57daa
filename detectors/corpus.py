"""A labelled corpus of streams with the standard anomaly kinds, and a windowed,
early-detection-rewarding scorer written from the published description of the Numenta
Anomaly Benchmark (Lavin and Ahmad, 2015).

Each series is ``n`` samples five minutes apart, a background (``noise``: a level with
Gaussian noise; ``daily``: a daily rhythm; ``counts``: Poisson counts with a working-hours
rhythm) plus one injected anomaly of a kind in :data:`KINDS`, or none (``clean`` series,
which also include a bursty mostly-zero counter and a flat stream that starts to wobble).
The value is ``base + noise``; an anomaly changes one part of it:

============== =================================================================
spike          one sample 8 noise deviations out
level_up/down  the base moves 5 noise deviations for good
variance       the noise is 4 times wider for 300 samples
seasonal_break the daily rhythm turns upside down for a day (values stay in range)
trend          the base starts to climb, 6 deviations a day
flatline       the value freezes at its last value for 200 samples
shape          the noise jumps between +2.5 and -2.5 deviations for 200 samples
low_slow       the base climbs 4 deviations over 1,500 samples, then stays
============== =================================================================

Scoring, as published for NAB: an anomaly window of ``window_share * n / anomalies``
samples is centred on each onset (extended to the anomaly's end for the long kinds); the
first detection in a window earns ``sigmoid(position)`` (about 0.99 at the window's start,
0 at its end), each detection outside every window costs ``a_fp`` times the same sigmoid of
its distance after the window before it (the full ``a_fp`` with no window before it), and a
window without a detection costs ``a_fn``. Detections in the first ``probation`` share of a
series are ignored. The corpus score is ``100 * (S - S_null) / (S_perfect - S_null)``: 0 for
a detector that flags nothing, 100 for one that flags each window at its first sample.

Examples:
    >>> corpus = make_corpus(seeds=1, n=2000)
    >>> sorted({s.kind for s in corpus}) == sorted(KINDS + ("none",))
    True
    >>> spike = next(s for s in corpus if s.kind == "spike")
    >>> (start, end), onset = spike.windows[0], spike.onsets[0]
    >>> start < onset < end
    True
    >>> perfect = score_series(spike, [start])
    >>> round(perfect.nab, 4), score_series(spike, []).nab
    (0.9866, -1.0)
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

STEP_MS = 300_000  # five minutes
T0_MS = 1772380800000  # 2026-03-02T00:00:00+08:00, a Monday
DAY = 288  # samples a day
KINDS: tuple[str, ...] = (
    "spike",
    "level_up",
    "level_down",
    "variance",
    "seasonal_break",
    "trend",
    "flatline",
    "shape",
    "low_slow",
)
# How many samples each kind lasts (its window reaches at least that far past the onset).
DURATION = {
    "spike": 1,
    "level_up": 1,
    "level_down": 1,
    "variance": 300,
    "seasonal_break": DAY,
    "trend": DAY,
    "flatline": 200,
    "shape": 200,
    "low_slow": 1500,
}
BACKGROUNDS = ("noise", "daily", "counts")
SEASONAL = {"daily", "counts"}


@dataclass(frozen=True)
class Series:
    """One labelled stream: values at ``ts_ms``, the anomaly onsets and their windows.

    Examples:
        >>> s = make_series("noise", "none", random.Random(1), n=500)
        >>> len(s.values) == len(s.ts_ms) == 500, s.onsets, s.windows
        (True, (), ())
    """

    name: str
    kind: str
    values: tuple[float, ...]
    ts_ms: tuple[int, ...]
    onsets: tuple[int, ...]
    windows: tuple[tuple[int, int], ...]  # [start, end) sample indices


def _poisson(rng: random.Random, lam: float) -> float:
    if lam > 30:
        return float(max(0, round(rng.gauss(lam, math.sqrt(lam)))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return float(k)


def _background(kind: str, rng: random.Random, n: int) -> tuple[list[float], list[float], float]:
    """Base, noise and the noise's deviation of one background."""
    if kind == "noise":
        return [50.0] * n, [rng.gauss(0, 2.0) for _ in range(n)], 2.0
    if kind == "daily":
        base = [100 + 20 * math.sin(2 * math.pi * i / DAY) for i in range(n)]
        return base, [rng.gauss(0, 3.0) for _ in range(n)], 3.0
    # counts per 5 minutes, busy from 09:00 to 18:00
    base = [4.0 + (16.0 if 108 <= i % DAY < 216 else 0.0) for i in range(n)]
    noise = [_poisson(rng, b) - b for b in base]
    return base, noise, 3.0


def _span(kind: str, o: int, n: int) -> range:
    return range(o, min(n, o + DURATION[kind]))


def _spike(base: list[float], noise: list[float], dev: float, o: int) -> None:
    noise[o] += 8 * dev


def _shift(by: float) -> Callable[[list[float], list[float], float, int], None]:
    def inject(base: list[float], noise: list[float], dev: float, o: int) -> None:
        for i in range(o, len(base)):
            base[i] += by * dev

    return inject


def _variance(base: list[float], noise: list[float], dev: float, o: int) -> None:
    for i in _span("variance", o, len(base)):
        noise[i] *= 4


def _seasonal_break(base: list[float], noise: list[float], dev: float, o: int) -> None:
    for i in _span("seasonal_break", o, len(base)):
        base[i] = base[i - DAY // 2]


def _trend(base: list[float], noise: list[float], dev: float, o: int) -> None:
    for i in range(o, len(base)):
        base[i] += 6 * dev * (i - o) / DAY


def _flatline(base: list[float], noise: list[float], dev: float, o: int) -> None:
    frozen = base[o - 1] + noise[o - 1]
    for i in _span("flatline", o, len(base)):
        base[i], noise[i] = frozen, 0.0


def _shape(base: list[float], noise: list[float], dev: float, o: int) -> None:
    for i in _span("shape", o, len(base)):
        noise[i] = 2.5 * dev * (1 if i % 2 else -1)


def _low_slow(base: list[float], noise: list[float], dev: float, o: int) -> None:
    for i in range(o, len(base)):
        base[i] += 4 * dev * min(1.0, (i - o) / DURATION["low_slow"])


# How each kind changes ``base`` or ``noise`` in place from the onset ``o`` on.
INJECT: dict[str, Callable[[list[float], list[float], float, int], None]] = {
    "spike": _spike,
    "level_up": _shift(5.0),
    "level_down": _shift(-5.0),
    "variance": _variance,
    "seasonal_break": _seasonal_break,
    "trend": _trend,
    "flatline": _flatline,
    "shape": _shape,
    "low_slow": _low_slow,
}


def make_series(
    background: str, kind: str, rng: random.Random, n: int = 4000, window_share: float = 0.1
) -> Series:
    """One series of ``background`` with one anomaly of ``kind`` (``"none"``: no anomaly).

    The onset lies between 45 % and 70 % of the series, after the probation period.

    Examples:
        >>> s = make_series("daily", "level_up", random.Random(2), n=1000)
        >>> s.name, s.windows[0][1] - s.windows[0][0]
        ('daily/level_up', 100)
    """
    base, noise, dev = _background(background, rng, n)
    onsets: tuple[int, ...] = ()
    windows: tuple[tuple[int, int], ...] = ()
    if kind != "none":
        o = rng.randrange(int(0.45 * n), int(0.70 * n))
        INJECT[kind](base, noise, dev, o)
        half = int(window_share * n / 2)
        onsets, windows = (o,), ((o - half, min(n, o + max(half, DURATION[kind]))),)
    values = tuple(round(b + e, 6) for b, e in zip(base, noise, strict=True))
    ts = tuple(T0_MS + i * STEP_MS for i in range(n))
    return Series(f"{background}/{kind}", kind, values, ts, onsets, windows)


def _clean_extras(rng: random.Random, n: int) -> list[Series]:
    """A bursty mostly-zero byte counter and a flat stream that starts to wobble."""
    ts = tuple(T0_MS + i * STEP_MS for i in range(n))
    bursty = tuple(0.0 if rng.random() < 0.9 else rng.expovariate(1e-6) for _ in range(n))
    flat = tuple(5.0 if i < n // 2 else 5.0 + rng.gauss(0, 1e-3) for i in range(n))
    return [
        Series("bursty/none", "none", bursty, ts, (), ()),
        Series("flat/none", "none", flat, ts, (), ()),
    ]


def make_corpus(seeds: int = 2, n: int = 4000) -> list[Series]:
    """Every (background, kind) pair, ``seeds`` times, plus clean series; deterministic.

    A seasonal break needs a season, so the ``noise`` background has none.

    Examples:
        >>> len(make_corpus(seeds=1, n=600)), len(make_corpus(seeds=2, n=600))
        (31, 62)
    """
    out: list[Series] = []
    for seed in range(seeds):
        rng = random.Random(1000 + seed)
        for background in BACKGROUNDS:
            for kind in (*KINDS, "none"):
                if kind == "seasonal_break" and background not in SEASONAL:
                    continue
                out.append(make_series(background, kind, rng, n))
        out += _clean_extras(rng, n)
    return out


def sigmoid(position: float) -> float:
    """NAB's scaled sigmoid: about 0.987 at -1 (a window's start), 0 at 0, towards -1 after.

    Examples:
        >>> round(sigmoid(-1.0), 4), sigmoid(0.0), round(sigmoid(3.0), 4)
        (0.9866, 0.0, -1.0)
    """
    return 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


@dataclass
class SeriesScore:
    """What one series scored: the NAB sum and the counts behind the other figures.

    Examples:
        >>> SeriesScore().nab, SeriesScore().windows
        (0.0, 0)
    """

    nab: float = 0.0
    perfect: float = 0.0
    null: float = 0.0
    windows: int = 0
    found: int = 0
    detections: int = 0
    in_window: int = 0
    scored_events: int = 0
    delays: list[int] = field(default_factory=list)  # first detection - onset, in samples


def score_series(
    s: Series,
    detections: list[int],
    probation: float = 0.15,
    a_fp: float = 0.11,
    a_fn: float = 1.0,
) -> SeriesScore:
    """Score the detected sample indices of ``s`` (see the module's description).

    Examples:
        >>> s = make_series("noise", "spike", random.Random(1), n=1000)
        >>> (a, b), o = s.windows[0], s.onsets[0]
        >>> late = score_series(s, [b - 1])  # found at the window's very end: little reward
        >>> late.found, round(late.nab, 2), score_series(s, [o]).delays
        (1, 0.02, [0])
        >>> round(score_series(s, [o, b + 5]).nab - score_series(s, [o]).nab, 3)  # an FP
        -0.016
    """
    start_at = int(probation * len(s.values))
    out = SeriesScore(windows=len(s.windows), scored_events=len(s.values) - start_at)
    out.null = -a_fn * len(s.windows)
    out.perfect = sigmoid(-1.0) * len(s.windows)
    first: dict[int, int] = {}
    for i in sorted(d for d in detections if d >= start_at):
        out.detections += 1
        inside = [w for w, (a, b) in enumerate(s.windows) if a <= i < b]
        if inside:
            out.in_window += 1
            w = inside[0]
            if w not in first:
                first[w] = i
                a, b = s.windows[w]
                out.nab += sigmoid(-(b - i) / (b - a))
            continue
        before = [(a, b) for a, b in s.windows if b <= i]
        if before:
            a, b = before[-1]
            out.nab += a_fp * sigmoid((i - b + 1) / (b - a))
        else:
            out.nab -= a_fp
    out.found = len(first)
    out.nab -= a_fn * (len(s.windows) - len(first))
    out.delays = [first[w] - s.onsets[w] for w in sorted(first)]
    return out


def normalised(scores: list[SeriesScore]) -> float:
    """``100 * (S - S_null) / (S_perfect - S_null)`` over ``scores``; 0.0 with no window.

    Examples:
        >>> normalised([SeriesScore(nab=-1.0, perfect=0.9866, null=-1.0, windows=1)])
        0.0
    """
    total = sum(x.nab for x in scores)
    perfect = sum(x.perfect for x in scores)
    null = sum(x.null for x in scores)
    if perfect == null:
        return 0.0
    return 100.0 * (total - null) / (perfect - null)
