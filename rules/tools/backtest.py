"""``rules backtest``: what a rule folder would have raised over an event file, and how that
compares with another rule folder, with labels or with inspectors' verdicts.

The file runs through :func:`replay.backtest.backtest` (the same engine, sharded like the
live worker). Events before ``--from`` warm state up; only warnings whose time lies in
``[since, until)`` are reported: per day (in the file's UTC offset), per severity, per
rule, the top keys, suppressed counts (those carried by the reported warnings, and every
repeat held back over the whole file), shadow-mode counts, the diff against
another folder, and scores against labels (:mod:`replay.score`) or dispositions. With a
window, only what belongs to it is scored: labels whose span (with the matching grace)
overlaps it, and verdicts about warnings inside it (:func:`rules.tools.verdicts.in_window`).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any

from envelope.events import RiskWarning
from replay.backtest import BacktestReport, backtest, read_labels
from replay.score import DEFAULT_GRACE_MS, Score, format_table, label_window_ms, score
from rules.engine.admission import Bounds
from rules.tools.diff import WarningDiff, dedup_key, diff_warnings
from rules.tools.times import show_at
from rules.tools.verdicts import (
    VerdictScore,
    format_verdicts,
    in_window,
    read_dispositions,
    score_verdicts,
)

SEVERITY_ORDER = ("critical", "high", "medium", "low", "info")
LISTED = 10  # new / lost warnings listed by name in the text report


@dataclass
class Window:
    """A reporting range ``[since, until)``: dates are whole local days of the file."""

    since: str | None = None
    until: str | None = None

    def __post_init__(self) -> None:
        """Bad or reversed bounds fail here, before any event is read; the message names
        the option."""
        bounds = []
        for option, raw in (("--from", self.since), ("--to", self.until)):
            try:
                bounds.append(_bound(raw, UTC, 0))
            except ValueError as exc:
                raise ValueError(f"{option} {exc}") from None
        if bounds[0] is not None and bounds[1] is not None and bounds[0] > bounds[1]:
            raise ValueError(f"--from {self.since} is after --to {self.until}")

    def bounds_ms(self, tz: tzinfo) -> tuple[int | None, int | None]:
        return _bound(self.since, tz, 0), _bound(self.until, tz, 1)


def _bound(raw: str | None, tz: tzinfo, days_after: int) -> int | None:
    """``2026-03-02`` -> that day's start (``days_after=1``: the next day's) in ``tz``; a
    full ISO 8601 time is taken as is."""
    if raw is None:
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            raise ValueError(
                f"{raw!r} is not a date: write a day like 2026-03-02 "
                "or a time like 2026-03-02T09:00+08:00"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=tz)
        return int(moment.timestamp() * 1000)
    start = datetime.combine(day + timedelta(days=days_after), time(0), tzinfo=tz)
    return int(start.timestamp() * 1000)


def tz_of(offset: str) -> tzinfo:
    """``'+08:00'`` -> a fixed-offset tzinfo."""
    sign = -1 if offset.startswith("-") else 1
    hours, _, minutes = offset.lstrip("+-").partition(":")
    return timezone(sign * timedelta(hours=int(hours), minutes=int(minutes or 0)))


@dataclass
class RulesBacktest:
    report: BacktestReport
    since_ms: int | None
    until_ms: int | None
    warnings: list[RiskWarning]
    top: int = 10
    against: str | None = None
    diff: WarningDiff | None = None
    labels: dict[str, Score] | None = None
    verdicts: dict[str, VerdictScore] | None = None
    counts: dict[str, Counter[str]] = field(default_factory=dict)


def run_backtest(
    path: str | Path,
    rules_dir: str | Path,
    *,
    window: Window | None = None,
    against: str | Path | None = None,
    labels: str | Path | None = None,
    dispositions: str | Path | None = None,
    partitions: int = 4,
    partition_field: str = "region",
    lateness_ms: int = 300_000,
    top: int = 10,
    tolerance_ms: int = 0,
    seed: str | Path | None = None,
    bounds: Bounds | None = None,
) -> RulesBacktest:
    """Backtest ``rules_dir`` over ``path`` (both folders as a deployment seeded with the
    ``seed`` event file, if given); raises RuleSetError / FormatError / ValueError."""
    window = window or Window()
    opts = {
        "partitions": partitions,
        "partition_field": partition_field,
        "lateness_ms": lateness_ms,
        "seed_path": seed,
        "bounds": bounds,
        "now_ms": int(datetime.now(UTC).timestamp() * 1000),  # both sets judge at one time
        "age_from_file": True,  # an old file is judged against its own time
    }
    report = backtest(path, rules_dir, **opts)  # type: ignore[arg-type]
    tz = tz_of(report.tz)
    since_ms, until_ms = window.bounds_ms(tz)
    result = RulesBacktest(
        report, since_ms, until_ms, _within(report.warnings, since_ms, until_ms), top
    )
    result.counts = count_warnings(result.warnings, tz)
    raised = list(report.warnings)  # warm-up included: where verdicts are placed in time
    if against is not None:
        other = backtest(path, against, **opts)  # type: ignore[arg-type]
        raised += other.warnings
        result.against = str(against)
        result.diff = diff_warnings(
            result.warnings, _within(other.warnings, since_ms, until_ms), tolerance_ms
        )
    if labels is not None:
        rows = [lb for lb in read_labels(labels) if _overlaps(lb, since_ms, until_ms)]
        result.labels = score(result.warnings, rows)
    if dispositions is not None:
        verdicts = in_window(read_dispositions(dispositions), raised, since_ms, until_ms)
        result.verdicts = score_verdicts(result.warnings, verdicts)
    return result


def _within(
    warnings: Sequence[RiskWarning], since_ms: int | None, until_ms: int | None
) -> list[RiskWarning]:
    return [
        w
        for w in warnings
        if (since_ms is None or w.ts_ms >= since_ms) and (until_ms is None or w.ts_ms < until_ms)
    ]


def _overlaps(label: dict[str, Any], since_ms: int | None, until_ms: int | None) -> bool:
    """Whether a label can be matched inside the window: a warning matches it up to
    ``DEFAULT_GRACE_MS`` after its end (a deadline or a window closing late)."""
    start_ms, end_ms = label_window_ms(label)
    end_ms += DEFAULT_GRACE_MS
    return (since_ms is None or end_ms >= since_ms) and (until_ms is None or start_ms < until_ms)


def count_warnings(warnings: Sequence[RiskWarning], tz: tzinfo = UTC) -> dict[str, Counter[str]]:
    """Counters by day, severity, stage, rule and ``rule key``; per rule, the repeats held
    back by suppression (``details["suppressed"]``, carried by the next warning that got
    through) and the warnings of shadow-mode rules (``details["shadow"]``)."""
    names = ("day", "severity", "stage", "rule", "key", "suppressed", "shadow")
    counts: dict[str, Counter[str]] = {n: Counter() for n in names}
    for w in warnings:
        counts["day"][datetime.fromtimestamp(w.ts_ms / 1000, tz).date().isoformat()] += 1
        counts["severity"][w.severity] += 1
        counts["stage"][w.stage] += 1
        counts["rule"][w.rule_id] += 1
        counts["key"][f"{w.rule_id} {w.key}"] += 1
        details = getattr(w, "details", None) or {}
        suppressed = details.get("suppressed")
        if isinstance(suppressed, int) and suppressed > 0:
            counts["suppressed"][w.rule_id] += suppressed
        if details.get("shadow"):
            counts["shadow"][w.rule_id] += 1
    return counts


def _block(title: str, counter: Counter[str], keys: Sequence[str]) -> list[str]:
    if not keys:
        return [f"{title}: none"]
    width = max(len(k) for k in keys)
    return [f"{title}:"] + [f"  {k.ljust(width)}  {counter[k]:>7,}" for k in keys]


def format_text(bt: RulesBacktest) -> str:
    r, c = bt.report, bt.counts
    since = "start" if bt.since_ms is None else show_at(bt.since_ms)
    until = "end" if bt.until_ms is None else show_at(bt.until_ms)
    lines = [
        f"backtest {r.path}: {r.events:,} events ({r.rejected:,} rejected) "
        f"through {len(r.rules)} rules "
        f"on {r.partitions} partitions in {r.elapsed_s:.1f} s",
        f"warnings from {since} until {until}: {len(bt.warnings):,}",
    ]
    if r.seed_path is not None:
        lines.insert(1, f"seeded with {r.seeded:,} events from {r.seed_path} (no warnings)")
    lines += _block(f"per day ({r.tz})", c["day"], sorted(c["day"]))
    sev = [s for s in SEVERITY_ORDER if s in c["severity"]] + sorted(
        set(c["severity"]) - set(SEVERITY_ORDER)
    )
    lines += _block("per severity", c["severity"], sev)
    lines += _block("per stage", c["stage"], [k for k, _ in c["stage"].most_common()])
    lines += _block("per rule", c["rule"], [k for k, _ in c["rule"].most_common()])
    lines += _block(f"top {bt.top} keys", c["key"], [k for k, _ in c["key"].most_common(bt.top)])
    if c["suppressed"]:
        lines += _block("suppressed repeats", c["suppressed"], sorted(c["suppressed"]))
    else:
        lines.append("suppressed repeats: none carried by these warnings")
    if r.suppressed:
        title = "held back by suppression over the whole file (warm-up included)"
        lines += _block(title, r.suppressed, sorted(r.suppressed))
    if c["shadow"]:
        lines += _block("shadow mode (counted, never enqueued)", c["shadow"], sorted(c["shadow"]))
    if bt.diff is not None:
        lines += _diff_lines(bt.diff, bt.against or "")
    if bt.labels is not None:
        lines.append("scores against labels:")
        lines += ["  " + x for x in format_table(bt.labels).splitlines()]
    if bt.verdicts is not None:
        lines.append("scores against dispositions:")
        lines += ["  " + x for x in format_verdicts(bt.verdicts).splitlines()]
    return "\n".join(lines)


def _diff_lines(d: WarningDiff, against: str) -> list[str]:
    lines = [
        f"diff against {against}: {len(d.new)} new, {len(d.lost)} lost, "
        f"{len(d.unchanged)} unchanged ({d.moved} moved in time)"
    ]
    for name, items in (("new", d.new), ("lost", d.lost)):
        for w in items[:LISTED]:
            lines.append(f"  {name:<4}  {dedup_key(w)}  {w.severity}")
        if len(items) > LISTED:
            lines.append(f"  {name:<4}  … {len(items) - LISTED} more")
    return lines


LABEL_FIELDS = ("labels", "detected", "recall", "warnings", "matched", "precision")
VERDICT_FIELDS = ("warnings", "confirmed", "dismissed", "unlabelled", "precision", "recall")


def to_json(bt: RulesBacktest) -> str:
    """The report as a JSON document (counts, diff, scores)."""
    r, c = bt.report, bt.counts
    doc: dict[str, Any] = {
        "file": r.path,
        "events": r.events,
        "rejected": r.rejected,
        "rules": r.rules,
        "seed": None if r.seed_path is None else {"file": r.seed_path, "events": r.seeded},
        "since": None if bt.since_ms is None else show_at(bt.since_ms),
        "until": None if bt.until_ms is None else show_at(bt.until_ms),
        "warnings": len(bt.warnings),
        "tz": r.tz,
        "per_day": dict(sorted(c["day"].items())),
        "per_severity": dict(c["severity"]),
        "per_stage": dict(c["stage"]),
        "per_rule": dict(c["rule"]),
        "top_keys": dict(c["key"].most_common(bt.top)),
        "suppressed": dict(c["suppressed"]),
        "suppressed_whole_file": dict(r.suppressed),
        "shadow": dict(c["shadow"]),
    }
    if bt.diff is not None:
        doc["diff"] = {
            "against": bt.against,
            "new": [dedup_key(w) for w in bt.diff.new],
            "lost": [dedup_key(w) for w in bt.diff.lost],
            "unchanged": len(bt.diff.unchanged),
            "moved": bt.diff.moved,
        }
    if bt.labels is not None:
        doc["labels"] = _table(bt.labels, LABEL_FIELDS)
    if bt.verdicts is not None:
        doc["dispositions"] = _table(bt.verdicts, VERDICT_FIELDS)
    return json.dumps(doc, ensure_ascii=False, indent=2)


def _table(scores: dict[str, Any], names: Sequence[str]) -> dict[str, dict[str, Any]]:
    return {k: {n: getattr(s, n) for n in names} for k, s in scores.items()}
