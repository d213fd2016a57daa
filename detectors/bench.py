"""``riskloop bench detectors``: every single-stream detector on the labelled corpus of
:mod:`detectors.corpus`, scored the NAB way, with the figures per anomaly kind.

Each series is fed to a fresh :class:`~detectors.stream.StreamDetector` as ``{"value": v}``
with its timestamp, scored before it learns, with the detector's own label-free threshold.
Per detector and kind it prints recall (windows found), precision (detections inside a
window), the median time to detect (from the onset, in minutes; negative is early), false
alarms per 10,000 events (outside every window), and the NAB score; per detector the corpus
score, µs per event (score, decide and learn) and bytes per key (the pickled state after a
series); last, the bytes per key of the per-entity baselines an ``anomaly`` rule keeps with
``per_key``. Prints figures, asserts nothing.

Examples:
    >>> from detectors.corpus import make_corpus
    >>> corpus = [s for s in make_corpus(seeds=1, n=1500) if s.kind in ("spike", "none")]
    >>> result = run_detector("default", corpus)
    >>> sorted(result.by_kind), result.us_per_event > 0, result.bytes_per_key > 0
    (['none', 'spike'], True, True)
"""

from __future__ import annotations

import argparse
import math
import pickle
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from detectors.corpus import STEP_MS, Series, SeriesScore, make_corpus, normalised, score_series
from detectors.entity import EntityBaselines
from detectors.stream import StreamDetector
from envelope.errors import UserError

# What is benchmarked: a label and how to build its single-stream detector.
CANDIDATES: dict[str, Callable[[], Any]] = {
    "default": StreamDetector,
    "robust-value": lambda: StreamDetector("robust", derive=False),
    "gaussian": lambda: StreamDetector("gaussian"),
    "gaussian-value": lambda: StreamDetector("gaussian", derive=False),
    "hst-value": lambda: StreamDetector("hst", derive=False),
}


class UnknownCandidate(UserError, ValueError):
    """A detector name the benchmark does not know; the message lists the known ones."""


@dataclass
class Result:
    """One detector's scores per kind, cost per event and state size.

    Examples:
        >>> Result("x").corpus_score
        0.0
    """

    label: str
    by_kind: dict[str, list[SeriesScore]] = field(default_factory=dict)
    us_per_event: float = 0.0
    bytes_per_key: int = 0

    @property
    def corpus_score(self) -> float:
        """The NAB score over every series."""
        return normalised([x for xs in self.by_kind.values() for x in xs])


def run_detector(label: str, corpus: list[Series]) -> Result:
    """Feed every series of ``corpus`` to a fresh detector ``label`` of :data:`CANDIDATES`.

    Examples:
        >>> from detectors.corpus import make_series
        >>> import random
        >>> s = make_series("noise", "spike", random.Random(3), n=1500)
        >>> run_detector("default", [s]).by_kind["spike"][0].found
        1
    """
    build = CANDIDATES[label]
    result, spent, events, sizes = Result(label), 0.0, 0, []
    for s in corpus:
        det = build()
        flags = []
        start = time.process_time()
        for i, (v, ts) in enumerate(zip(s.values, s.ts_ms, strict=True)):
            if det.update({"value": v}, ts)[1]:
                flags.append(i)
        spent += time.process_time() - start
        events += len(s.values)
        sizes.append(len(pickle.dumps(det)))
        result.by_kind.setdefault(s.kind, []).append(score_series(s, flags))
    result.us_per_event = spent / max(events, 1) * 1e6
    result.bytes_per_key = max(sizes, default=0)
    return result


def kind_row(kind: str, scores: list[SeriesScore]) -> str:
    """One table row: recall, precision, median delay, false alarms per 10k, NAB score.

    Examples:
        >>> kind_row("spike", [SeriesScore(windows=2, found=1, detections=2, in_window=1,
        ...     scored_events=10_000, delays=[3], nab=-0.1, perfect=1.97, null=-2.0)])
        '  spike              0.50      0.50       15.0      1.0     47.9'
    """
    windows = sum(x.windows for x in scores)
    found = sum(x.found for x in scores)
    det = sum(x.detections for x in scores)
    inside = sum(x.in_window for x in scores)
    events = sum(x.scored_events for x in scores)
    delays = [d for x in scores for d in x.delays]
    recall = f"{found / windows:.2f}" if windows else "-"
    precision = f"{inside / det:.2f}" if det else "-"
    delay = f"{statistics.median(delays) * STEP_MS / 60_000:.1f}" if delays else "-"
    false_alarms = (det - inside) / max(events, 1) * 10_000
    nab = f"{normalised(scores):.1f}" if windows else "-"
    return f"  {kind:<16}{recall:>7}{precision:>10}{delay:>11}{false_alarms:>9.1f}{nab:>9}"


def report(result: Result) -> str:
    """The table of one detector.

    Examples:
        >>> print(report(Result("x", us_per_event=1.0, bytes_per_key=10)))  # doctest: +ELLIPSIS
        x: corpus score 0.0, 1.0 µs/event, 10 bytes per key
          kind             recall precision delay(min)  FA/10k      NAB
    """
    head = (
        f"{result.label}: corpus score {result.corpus_score:.1f}, "
        f"{result.us_per_event:.1f} µs/event, {result.bytes_per_key:,} bytes per key"
    )
    columns = f"  {'kind':<16}{'recall':>7}{'precision':>10}{'delay(min)':>11}"
    lines = [head, columns + f"{'FA/10k':>8}{'NAB':>9}"]
    lines += [kind_row(kind, scores) for kind, scores in sorted(result.by_kind.items())]
    return "\n".join(lines)


# Per-entity baselines: the detectors worth keeping one model per key of (an official).
PER_KEY = ("profile", "gaussian", "seasonal", "robust")


def entity_bytes(name: str, keys: int = 50, hours: int = 24 * 14) -> int:
    """Pickled bytes per key of :class:`~detectors.entity.EntityBaselines` of ``name``
    after ``hours`` hourly samples of six event features per key (two weeks).

    Examples:
        >>> 0 < entity_bytes("profile", keys=3, hours=48) < 2048
        True
    """
    eb = EntityBaselines(name, max_keys=keys)
    for i in range(keys * hours):
        hour = (i // keys) % 24
        x = {"hour_of_day": hour, "is_workday": float(hour % 7 < 5), "is_night": float(hour < 6)}
        x |= {"hour_sin": math.sin(hour), "hour_cos": math.cos(hour), "count_1h": i % 5}
        eb.learn_one(f"k{i % keys}", x, STEP_MS * i)
    return round(eb.bytes_per_key())


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The benchmark's options, on ``p`` (``riskloop bench detectors`` or this module).

    Examples:
        >>> p = argparse.ArgumentParser()
        >>> add_arguments(p)
        >>> p.parse_args(["--seeds", "3"]).seeds
        3
        >>> p.parse_args(["--sim-seeds", "3,4"]).sim_seeds
        [3, 4]
    """
    p.add_argument("--seeds", type=int, default=2, help="series per background and kind")
    p.add_argument("--length", type=int, default=4000, help="events per series")
    p.add_argument("--only", help=f"comma-separated detectors (of {', '.join(CANDIDATES)})")
    p.add_argument(
        "--sim-seeds",
        type=lambda text: [int(x) for x in text.split(",")],
        default=[],
        help="also score the shipped anomaly rules on the simulator's behaviour scenarios "
        "with these comma-separated seeds (about 40 s each)",
    )


def run(seeds: int = 2, length: int = 4000, only: str | None = None) -> int:
    """Print the tables of the ``only`` detectors (all by default) on the corpus.

    Examples:
        >>> run(seeds=1, length=1200, only="default")  # doctest: +ELLIPSIS
        corpus: 31 series of 1,200 events (seeds 1)
        default: corpus score ...
        per-entity baselines (per_key), bytes per key after two weeks: profile ...
        0
        >>> run(only="nope")  # doctest: +NORMALIZE_WHITESPACE
        Traceback (most recent call last):
        ...
        detectors.bench.UnknownCandidate: unknown detector 'nope':
            choose from default, robust-value, gaussian, gaussian-value, hst-value
    """
    labels = only.split(",") if only else list(CANDIDATES)
    unknown = [x for x in labels if x not in CANDIDATES]
    if unknown:
        raise UnknownCandidate(
            f"unknown detector {unknown[0]!r}: choose from {', '.join(CANDIDATES)}"
        )
    corpus = make_corpus(seeds=seeds, n=length)
    print(f"corpus: {len(corpus)} series of {length:,} events (seeds {seeds})")
    for label in labels:
        print(report(run_detector(label, corpus)))
    sizes = ", ".join(f"{name} {entity_bytes(name):,}" for name in PER_KEY)
    print(f"per-entity baselines (per_key), bytes per key after two weeks: {sizes}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m detectors.bench [--seeds N] [--length N] [--only a,b]``.

    Examples:
        >>> main(["--seeds", "1", "--length", "1000", "--only", "gaussian"])  # doctest: +ELLIPSIS
        corpus: 31 series of 1,000 events (seeds 1)
        gaussian: corpus score ...
        per-entity baselines ...
        0
    """
    p = argparse.ArgumentParser(prog="riskloop bench detectors")
    add_arguments(p)
    args = p.parse_args(argv)
    try:
        return run(args.seeds, args.length, args.only)
    except ValueError as exc:
        p.error(str(exc))


if __name__ == "__main__":
    raise SystemExit(main())
