"""Features beyond the value, for one stream: what a detector needs to see shape changes
inside the normal range.

For each numeric input feature ``f`` (a stream's ``value``), :class:`Derive` adds:

- ``f.diff``: the first difference (a jump, or values that suddenly zig-zag, even when every
  value is an ordinary one);
- ``f.logstd``: the log of the standard deviation of the last ``short`` values over the
  stream's magnitude (a flat middle, the value frozen, or a wider spread); the log turns "no
  spread at all" into a far outlier, floored at ``1e-6`` so a constant stream stays constant
  and the feature is the same at any scale;
- ``f.rough``: the mean absolute step divided by the standard deviation, both forgetting
  over about ``ROUGH_SPAN`` samples (about 1.13 for independent noise, 2 for values that
  zig-zag, towards 0 for a smooth drift): the shape of the recent past whatever its level
  and spread, so noise that starts to alternate or to wander inside the normal range
  changes it; left out for the first ``ROUGH_SPAN`` samples and while the stream is flat;
- ``f.season``: the value minus the running mean of the same local hour of day (a rhythm
  that breaks while the values stay in range), once that hour has been seen ``3`` times.

Time is the sample's ``ts_ms``; local hours are China Standard Time (UTC+8). The state is
a few floats per feature and hour: at most ``MAX_FEATURES`` input features are followed.

Examples:
    >>> d = Derive(short=4)
    >>> t0 = 1772413200000  # 2026-03-02 09:00 +08:00
    >>> for i, v in enumerate([1.0, 3.0, 1.0, 3.0]):
    ...     x = d.update({"value": v}, t0 + i * 60_000)
    >>> {k: round(v, 3) for k, v in x.items()}
    {'value': 3.0, 'value.diff': 2.0, 'value.logstd': -0.955, 'value.season': 1.333}
"""

from __future__ import annotations

import math
from typing import Any

from detectors.base import MAX_FEATURES, numeric_features

HOUR_MS = 3_600_000
CST_OFFSET_MS = 8 * HOUR_MS
SEASON_WARMUP = 3
STD_FLOOR = 1e-6  # of the stream's magnitude: no spread at all is this far out
ROUGH_SPAN = 24  # samples the roughness forgets over


class _Track:
    """One input feature: its last ``short`` values and a mean per local hour of day."""

    __slots__ = ("recent", "head", "hour_mean", "hour_n", "magnitude", "ew")

    def __init__(self) -> None:
        self.recent: list[float] = []
        self.head = 0
        self.hour_mean = [0.0] * 24
        self.hour_n = [0] * 24
        self.magnitude = 0.0
        self.ew = [0.0, 0.0, 0.0, 0.0]  # mean |step|, mean, variance, samples

    def __getstate__(self) -> tuple[Any, ...]:
        return self.recent, self.head, self.hour_mean, self.hour_n, self.magnitude, self.ew

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        self.recent, self.head, self.hour_mean, self.hour_n, self.magnitude, *ew = state
        self.ew = ew[0] if ew else [0.0, 0.0, 0.0, 0.0]  # saved before the roughness


class Derive:
    """Adds ``.diff``, ``.logstd``, ``.rough`` and ``.season`` to each numeric feature (see
    the module).

    ``update(x, ts_ms)`` returns the features of this sample (``x``'s numeric ones first)
    and then records it; the input is not modified.

    Parameters:
        short: values in the rolling standard deviation (at least 2).
        season_alpha: the weight floor of a new value in its hour's mean (forgetting).

    Examples:
        >>> d = Derive(short=3)
        >>> [sorted(d.update({"v": 5.0, "note": "x"}, 0)) for _ in range(4)][-1]
        ['v', 'v.diff', 'v.logstd', 'v.season']
        >>> d.update({"v": 5.0}, 0)["v.logstd"] == d.update({"v": 5.0}, 0)["v.logstd"]  # flat
        True
    """

    def __init__(self, short: int = 12, season_alpha: float = 0.05) -> None:
        if isinstance(short, bool) or not isinstance(short, int) or short < 2:
            raise ValueError(f"short must be a whole number >= 2, got {short!r}")
        if not isinstance(season_alpha, int | float) or not 0 < season_alpha <= 1:
            raise ValueError(f"season_alpha must be a number in (0, 1], got {season_alpha!r}")
        self.short = short
        self.season_alpha = float(season_alpha)
        self._tracks: dict[str, _Track] = {}

    def __repr__(self) -> str:
        return f"Derive(short={self.short}, season_alpha={self.season_alpha})"

    def update(self, x: dict[str, Any], ts_ms: int) -> dict[str, float]:
        """The sample's features, derived ones included; then the sample is recorded."""
        hour = ((ts_ms + CST_OFFSET_MS) // HOUR_MS) % 24
        out = numeric_features(x)
        for name, value in list(out.items()):
            tr = self._tracks.get(name)
            if tr is None:
                if len(self._tracks) >= MAX_FEATURES:
                    continue
                tr = self._tracks[name] = _Track()
            self._derive(name, value, tr, hour, out)
            self._record(value, tr, hour)
        return out

    def _derive(self, name: str, v: float, tr: _Track, hour: int, out: dict[str, float]) -> None:
        recent = tr.recent
        if recent:
            out[name + ".diff"] = v - recent[tr.head - 1]
        if len(recent) >= self.short - 1:
            window = self._last(tr, v) if len(recent) == self.short else [*recent, v]
            mean = sum(window) / len(window)
            var = sum((w - mean) ** 2 for w in window) / (len(window) - 1)
            scale = max(tr.magnitude, abs(v), 1e-300)
            out[name + ".logstd"] = math.log(math.sqrt(var) / scale + STD_FLOOR)
        ew = tr.ew
        if ew[3] >= ROUGH_SPAN and recent:
            step = abs(v - recent[tr.head - 1])
            absdiff = ew[0] + (step - ew[0]) / ROUGH_SPAN
            std = math.sqrt(ew[2])
            if std > STD_FLOOR * max(tr.magnitude, abs(v), 1e-300):
                out[name + ".rough"] = absdiff / std
        if tr.hour_n[hour] >= SEASON_WARMUP:
            out[name + ".season"] = v - tr.hour_mean[hour]

    def _last(self, tr: _Track, v: float) -> list[float]:
        """The newest ``short`` values, ``v`` included (the ring holds ``short``)."""
        r = tr.recent
        ordered = r[tr.head :] + r[: tr.head]
        return [*ordered[1:], v]

    def _record(self, v: float, tr: _Track, hour: int) -> None:
        ew = tr.ew
        ew[3] += 1
        a = max(1.0 / ew[3], 1.0 / ROUGH_SPAN)
        if tr.recent:
            ew[0] += a * (abs(v - tr.recent[tr.head - 1]) - ew[0])
        d = v - ew[1]
        ew[1] += a * d
        ew[2] = (1 - a) * (ew[2] + a * d * d)
        if len(tr.recent) < self.short:
            tr.recent.append(v)
            tr.head = len(tr.recent) % self.short
        else:
            tr.recent[tr.head] = v
            tr.head = (tr.head + 1) % self.short
        tr.magnitude = max(abs(v), tr.magnitude * 0.999)
        n = tr.hour_n[hour] = tr.hour_n[hour] + 1
        alpha = max(1.0 / n, self.season_alpha)
        tr.hour_mean[hour] += alpha * (v - tr.hour_mean[hour])
