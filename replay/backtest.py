"""Backtest: run an event file straight through the rule engine, keyed like the live worker.

Over 400 lines on purpose: the run, its report and its labels read as one story.

Each valid event goes to every key space of the rule set that can use it, to the partition
its key hashes to there (:class:`rules.engine.keyspace.KeyPlan`, the routing the live worker
does over its repartition topic), and is applied by that partition's :class:`Shard`. The
answer does not depend on how the file's producers would key it or on ``partitions``: every
shard follows the file's newest event time, catching up before it is fed, so every key sees
its events and deadlines in the order one engine over the whole file gives. At the end of
the file every shard's watermark moves to the newest event time: the file is complete,
nothing can arrive late any more. ``partitions`` only chooses how many shards share the keys,
as ``RISKLOOP_PARTITIONS`` does live; a data engineer can check that it changes nothing.

With ``open_end=True`` the file is instead taken as a stream that goes on, published as the
publisher does (keyed by ``partition_field`` onto ``partitions`` partitions of each event
topic): a shard's watermark passes only what every one of those source partitions has
reached, and nothing moves at the end. That is exactly what a live worker has raised once it
has taken in the whole file at full speed, before any idle time has let its watermarks go
further; the end-to-end tests compare the two warning by warning.

Events are admitted as a live worker admits them (future, too old, too late, duplicate: the
worker's reasons); ``now_ms`` is the wall clock they are judged against (default: now;
``--now``), and without it an event's age counts from the newest event of the file so far.

With ``seed_path`` the run starts as a seeded deployment does (:mod:`replay.seed`): each
shard first learns silently from the seed file's events of its keys.

Pure apart from reading the files: no broker, no Redis.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

import orjson

from envelope.errors import UserError
from envelope.events import Event, RiskWarning
from envelope.partitioning import partition_for
from envelope.topics import EVENT_TOPICS
from replay.formats import partition_key, read_rows
from replay.score import DEFAULT_GRACE_MS, Score, format_table, label_window_ms, score
from replay.seed import SeedFile
from rules import load_rules
from rules.engine.admission import (
    ADMITTED,
    DUPLICATE,
    NO_WATERMARK,
    Admission,
    Bounds,
    classify,
    shown,
)
from rules.engine.engine import MAX_DEPTH, warning_event
from rules.engine.keyspace import KeyPlan
from rules.engine.shard import Shard

# A quiet partition's watermark trails the file's newest event time by at most this much.
IDLE_STEP_MS = 60_000
_SAMPLE_REJECTS = 10
FILE = "file"  # the one source of a closed file


def _sources(partitions: int) -> tuple[str, ...]:
    """What an open-ended run waits for: every partition of every event topic."""
    return tuple(f"{t}:{p}" for t in EVENT_TOPICS.values() for p in range(partitions))


@dataclass
class BacktestReport:
    """What a backtest saw and raised; ``warnings`` in the order they fired, one per id."""

    path: str
    rules: list[str]
    partitions: int
    events: int = 0  # applied to the engines
    rejected: int = 0  # rows that are no event, and events refused (future, too old, late)
    reject_samples: list[tuple[int, str]] = field(default_factory=list)
    refused: Counter[str] = field(default_factory=Counter)  # by kind: future, too_old, ...
    duplicates: int = 0  # events whose id was applied already: skipped
    now_ms: int = 0  # the wall clock the events were judged against
    age_from_file: bool = False  # "too old" counts from the file's newest time, not now_ms
    warnings: list[RiskWarning] = field(default_factory=list)
    by_rule: Counter[str] = field(default_factory=Counter)
    by_severity: Counter[str] = field(default_factory=Counter)
    by_day: Counter[str] = field(default_factory=Counter)
    tz: str = "+00:00"
    elapsed_s: float = 0.0
    scores: dict[str, Score] | None = None
    # per rule, every repeat suppression held back over the whole file (the engines' count)
    suppressed: Counter[str] = field(default_factory=Counter)
    labels_path: str | None = None
    seed_path: str | None = None
    seeded: int = 0  # seed events the engines learned from before the file

    @property
    def events_per_s(self) -> float:
        return self.events / self.elapsed_s if self.elapsed_s > 0 else 0.0


class _Shards:
    """The shards of every key space, the clock that drives them, and the warnings raised.

    Closed file: one source, the file, whose newest event time every shard follows (lazily:
    a shard catches up just before it is fed, and all of them every ``IDLE_STEP_MS``), so each
    key sees its events and deadlines in the order a single engine over the file gives.
    Open end: the sources are the partitions of the event topics the publisher fills (by
    ``source_key``), and a shard's watermark is what all of them reached, as live.
    """

    def __init__(
        self,
        plan: KeyPlan,
        shards: list[Shard],
        report: BacktestReport,
        open_end: bool,
        bounds: Bounds,
    ) -> None:
        self.plan, self.shards, self.report, self.bounds = plan, shards, report, bounds
        self.open_end = open_end
        self.seen: set[str] = set()
        self.max_ts_ms: int | None = None  # the file's newest applied event time
        self.swept_ms: int | None = None
        self.newest_ms: int | None = None  # newest event admitted
        self.reached: dict[str, int] = {}  # open end: each source's newest event time
        self.synced: list[dict[str, int]] = [{} for _ in shards]

    def feed(self, source: str, event: Event, row: int) -> None:
        report = self.report
        bound = classify(
            event.ts_ms,
            report.now_ms,
            NO_WATERMARK,
            self.bounds,
            lateness_ms=0,
            age_from_ms=self._age_from(event),
        )
        if not bound.ok:
            self.count(bound, row)
            return
        admissions = []
        for ks, key in self.plan.route(event):
            shard = self._catch_up(self.plan.partition(key, len(self.shards)))
            admission, ws = shard.apply(ks.name, source, event, report.now_ms)
            admissions.append(admission)
            self.collect(ws)
        admission = _overall(admissions)
        self.count(admission, row)
        if admission.ok:
            self._saw(source, event)

    def _catch_up(self, p: int) -> Shard:
        """Shard ``p`` brought to the clock before it is fed."""
        shard = self.shards[p]
        if self.open_end:
            synced = self.synced[p]
            for source, ts in self.reached.items():
                if synced.get(source) != ts:
                    synced[source] = ts
                    self.collect(shard.progress(source, ts))
        elif self.max_ts_ms is not None:
            self.collect(shard.progress(FILE, self.max_ts_ms))
        return shard

    def _saw(self, source: str, event: Event) -> None:
        ts = event.ts_ms
        if self.newest_ms is None or ts > self.newest_ms:
            self.newest_ms = ts
        if self.open_end:
            if ts > self.reached.get(source, ts - 1):
                self.reached[source] = ts
            return
        if self.max_ts_ms is None or ts > self.max_ts_ms:
            self.max_ts_ms = ts
            if self.swept_ms is None or ts - self.swept_ms >= IDLE_STEP_MS:
                self.swept_ms = ts
                for p in range(len(self.shards)):
                    self._catch_up(p)

    def _age_from(self, event: Event) -> int | None:
        """Where an event's age counts from: the wall clock when the run was given a "now",
        else the newest event admitted so far (an old file is not too old for its own time)."""
        if self.report.age_from_file:
            return event.ts_ms if self.newest_ms is None else max(self.newest_ms, event.ts_ms)
        return None

    def finish(self) -> None:
        """A closed file ends: every shard's watermark to its newest time. An open end only
        lets every shard see how far every source got, and releases the sources that
        delivered nothing at all (a live worker's ingest releases an empty partition once it
        has been quiet for the idle time; released now or at the start, the shards apply the
        same events in the same order)."""
        for p, shard in enumerate(self.shards):
            self._catch_up(p)
            if not self.open_end and self.max_ts_ms is not None:
                self.collect(shard.advance_to(self.max_ts_ms))
            if self.open_end:
                for source in shard.clock.expected:
                    if source not in self.reached:
                        self.collect(shard.release(source))

    def count(self, admission: Admission, row: int) -> None:
        """An applied event, a duplicate skipped, or a refusal with its reason."""
        report = self.report
        if admission.ok:
            report.events += 1
        elif admission.kind == DUPLICATE:
            report.duplicates += 1
        else:
            report.refused[admission.kind] += 1
            _reject(report, row, admission.reason)

    def collect(self, warnings: Iterable[RiskWarning], depth: int = 0) -> None:
        """Keep each warning once, and route it into the ``source: warnings`` key spaces."""
        for w in warnings:
            if w.id not in self.seen:
                self.seen.add(w.id)
                self.report.warnings.append(w)
            if depth < MAX_DEPTH and w.stage != "resolved" and self.plan.takes_warnings:
                for ks, key in self.plan.route_warning(warning_event(w)):
                    shard = self._catch_up(self.plan.partition(key, len(self.shards)))
                    self.collect(shard.apply_warning(ks.name, w), depth + 1)


def _overall(admissions: list[Admission]) -> Admission:
    """One event's admission over the key spaces it went to: applied if any took it."""
    if not admissions or any(a.ok for a in admissions):
        return ADMITTED
    return next((a for a in admissions if a.kind != "gone"), admissions[0])


def backtest(
    path: str | Path,
    rules_dir: str | Path,
    partitions: int = 4,
    partition_field: str = "region",
    labels_path: str | Path | None = None,
    lateness_ms: int = 300_000,
    grace_ms: int = DEFAULT_GRACE_MS,
    encoding: str = "utf-8",
    open_end: bool = False,
    seed_path: str | Path | None = None,
    now_ms: int | None = None,
    bounds: Bounds | None = None,
    age_from_file: bool | None = None,
) -> BacktestReport:
    """Run ``path`` through the rules in ``rules_dir``; score against labels if given.
    ``open_end``: the file is a stream still going on (see the module's docstring);
    ``seed_path``: an event file the engines learn from first, emitting nothing;
    ``now_ms``: the wall clock events are admitted against (default: now), ``bounds``
    how far from it they may be and the dedup horizon (default: the settings' defaults);
    ``age_from_file`` (default: when no ``now_ms`` is given): an event is too old when it is
    older than the retention before the newest event of the file so far, not before the
    wall clock, so last year's file is judged as a worker running then would judge it.

    Raises ``rules.language.errors.RuleSetError`` (file:line) for bad rules and
    ``replay.formats.FormatError`` for an unsupported file or a bad seed row, before reading
    any event.
    """
    if partitions < 1:
        raise ValueError(f"partitions must be >= 1, got {partitions}")
    ruleset = load_rules(rules_dir)
    plan = KeyPlan(ruleset)
    sources = _sources(partitions) if open_end else (FILE,)
    shards = [Shard(plan, p, lateness_ms, bounds, sources, partitions) for p in range(partitions)]
    report = BacktestReport(
        path=str(path),
        rules=[r.id for r in ruleset.rules],
        partitions=partitions,
        now_ms=int(time.time() * 1000) if now_ms is None else now_ms,
        age_from_file=now_ms is None if age_from_file is None else age_from_file,
    )
    if seed_path is not None:
        seed = SeedFile(seed_path, partitions)
        report.seed_path = str(seed_path)
        report.seeded = seed.events
        for shard in shards:
            shard.seed(seed(shard.partition, plan))
    run = _Shards(plan, shards, report, open_end, bounds or Bounds())
    started = time.monotonic()
    first_tz: tzinfo | None = None
    layout = partition_field if open_end else None
    for row, key, event in _events(path, layout, report, encoding):
        first_tz = first_tz or _tz_of(event)
        source = f"{EVENT_TOPICS[event.stream]}:{partition_for(key, partitions)}"
        run.feed(source if open_end else FILE, event, row)
    run.finish()
    for shard in shards:
        for rule_id, stats in shard.stats.items():
            if stats["suppressed"]:
                report.suppressed[rule_id] += stats["suppressed"]
    report.elapsed_s = time.monotonic() - started
    _count(report, first_tz or UTC)
    if labels_path is not None:
        report.labels_path = str(labels_path)
        report.scores = score(report.warnings, read_labels(labels_path), grace_ms=grace_ms)
    return report


def _events(
    path: str | Path, partition_field: str | None, report: BacktestReport, encoding: str
) -> Iterator[tuple[int, bytes, Event]]:
    """``(row, producer key, event)`` for each valid row; rejects are counted and sampled.
    The producer key (at ``partition_field``) is only needed to lay out an open end."""
    for row, _envelope, reason, _original, event in read_rows(path, encoding=encoding):
        if event is None:
            _reject(report, row, reason or "not an event")
            continue
        key = b"" if partition_field is None else partition_key(event, partition_field)
        if key is None:
            _reject(report, row, f"no value at the partition field {partition_field!r}")
            continue
        yield row, key, event


def _reject(report: BacktestReport, row: int, reason: str) -> None:
    report.rejected += 1
    if len(report.reject_samples) < _SAMPLE_REJECTS:
        report.reject_samples.append((row, reason))


def _tz_of(event: Event) -> tzinfo | None:
    """The UTC offset the file's timestamps are written in: per-day counts use its days."""
    return datetime.fromisoformat(event.ts).tzinfo


def _count(report: BacktestReport, tz: tzinfo) -> None:
    offset = datetime(2000, 1, 1, tzinfo=tz).utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    report.tz = f"{'-' if minutes < 0 else '+'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    for w in report.warnings:
        report.by_rule[w.rule_id] += 1
        report.by_severity[w.severity] += 1
        report.by_day[datetime.fromtimestamp(w.ts_ms / 1000, tz).date().isoformat()] += 1


class LabelsError(UserError, ValueError):
    """A labels file that cannot be scored against: the message names the file and line."""


def read_labels(path: str | Path) -> list[dict[str, Any]]:
    """Labels from a JSON lines file, one ``{"scenario", "key", "start", "end", ...}`` a line."""
    labels = []
    if not Path(path).is_file():
        raise LabelsError(f"labels file {path} not found")
    with Path(path).open("rb") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                label = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise LabelsError(f"{path}:{number}: not a JSON label: {exc}") from None
            labels.append(_checked_label(label, f"{path}:{number}"))
    return labels


def _checked_label(label: Any, where: str) -> dict[str, Any]:
    """A label with its fields present and its times readable, or LabelsError at ``where``.

    >>> _checked_label({"scenario": "s", "key": "k", "start": 0, "end": "x"}, "l:3")
    Traceback (most recent call last):
    ...
    replay.backtest.LabelsError: l:3: label 'end' 'x' is not a time: write ISO 8601 or epoch ms
    """
    if not isinstance(label, dict):
        raise LabelsError(f"{where}: a label is a JSON object, got {type(label).__name__}")
    missing = [f for f in ("scenario", "key", "start", "end") if label.get(f) in (None, "")]
    if missing:
        raise LabelsError(
            f"{where}: label needs {', '.join(repr(f) for f in missing)}"
            ' (a label is {"scenario", "key", "start", "end"})'
        )
    for name in ("start", "end"):
        if isinstance(label[name], float) and label[name].is_integer():
            label[name] = int(label[name])  # epoch ms written as 1.7e12
        try:
            if isinstance(label[name], bool):
                raise TypeError("a boolean")
            label_window_ms({"start": label[name], "end": label[name]})
        except (ValueError, TypeError):
            raise LabelsError(
                f"{where}: label {name!r} {label[name]!r} is not a time: write ISO 8601 or epoch ms"
            ) from None
    start_ms, end_ms = label_window_ms(label)
    if end_ms < start_ms:
        raise LabelsError(f"{where}: label ends before it starts: swap 'start' and 'end'")
    return label


def _block(title: str, counts: Counter[str], order: Iterable[str] | None = None) -> list[str]:
    keys = list(order) if order is not None else [k for k, _ in counts.most_common()]
    if not keys:
        return [f"{title}: none"]
    width = max(len(k) for k in keys)
    return [f"{title}:"] + [f"  {k.ljust(width)}  {counts[k]:>7,}" for k in keys]


SEVERITIES = ("critical", "high", "medium", "low", "info")


def format_report(report: BacktestReport) -> str:
    """The report as text: totals, warnings by rule, severity and day, rejects, scores."""
    lines = [
        f"backtest {report.path}: {report.events:,} events through {len(report.rules)} rules "
        f"on {report.partitions} partitions in {report.elapsed_s:.1f} s "
        f"({report.events_per_s:,.0f} events/s); {report.rejected:,} rows rejected"
        + (f", {report.duplicates:,} duplicates skipped" if report.duplicates else ""),
        f"warnings: {len(report.warnings):,}",
    ]
    if report.seed_path is not None:
        lines.insert(1, f"seeded with {report.seeded:,} events from {report.seed_path}")
    lines += _block("by rule", report.by_rule)
    severities = [s for s in SEVERITIES if s in report.by_severity]
    severities += sorted(set(report.by_severity) - set(SEVERITIES))
    lines += _block("by severity", report.by_severity, severities)
    lines += _block(f"by day ({report.tz})", report.by_day, sorted(report.by_day))
    if report.refused:
        kinds = ", ".join(f"{kind} {n:,}" for kind, n in sorted(report.refused.items()))
        lines.append(f"events refused as a worker would at {shown(report.now_ms)}: {kinds}")
    if report.reject_samples:
        lines.append(f"rejected rows (first {len(report.reject_samples)}):")
        lines += [f"  row {row}: {reason}" for row, reason in report.reject_samples]
    if report.scores is not None:
        lines.append(f"scores against {report.labels_path}:")
        lines += ["  " + line for line in format_table(report.scores).splitlines()]
    return "\n".join(lines)
