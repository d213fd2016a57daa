"""Precision and recall of a rule set against inspectors' verdicts (exported dispositions).

A JSON lines file of :class:`~envelope.events.Disposition` records labels warnings: a
warning listed in a disposition's ``warning_ids`` takes its outcome; otherwise a
disposition of the same rule and group key does (the latest one), so a candidate rule
version, whose warning ids differ, is still scored on the labelled overlap. Confirmed
counts as a true positive, dismissed as a false positive; the rest is unlabelled.

Per rule: precision = confirmed / (confirmed + dismissed); recall = confirmed clues that
at least one warning found / confirmed clues of that rule.

Examples:
    >>> from envelope.events import Disposition, RiskWarning
    >>> def w(i, key):
    ...     return RiskWarning(id=i, fingerprint="f", rule_id="r", rule_version=1,
    ...         logic_hash="h", severity="high", title="t", key=key, ts_ms=0, region="x",
    ...         department="d")
    >>> def d(clue, key, outcome, ids=()):
    ...     return Disposition(id="d" + clue, clue_id=clue, rule_id="r", key=key,
    ...         outcome=outcome, code="x", actor="insp", ts_ms=1, warning_ids=ids)
    >>> verdicts = [d("c1", "A", "confirmed", ("w1",)), d("c2", "B", "dismissed"),
    ...     d("c3", "Z", "confirmed")]
    >>> s = score_verdicts([w("w1", "A"), w("w2", "B"), w("w3", "C")], verdicts)["r"]
    >>> (s.confirmed, s.dismissed, s.unlabelled, s.precision, s.recall)
    (1, 1, 1, 0.5, 0.5)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import orjson

from envelope.events import Disposition, RiskWarning, parse_clue_record


@dataclass
class VerdictScore:
    rule: str
    warnings: int = 0
    confirmed: int = 0
    dismissed: int = 0
    clues: int = 0  # confirmed clues of this rule
    found: int = 0  # ... that at least one warning matched

    @property
    def unlabelled(self) -> int:
        return self.warnings - self.confirmed - self.dismissed

    @property
    def precision(self) -> float | None:
        labelled = self.confirmed + self.dismissed
        return self.confirmed / labelled if labelled else None

    @property
    def recall(self) -> float | None:
        return self.found / self.clues if self.clues else None


def read_dispositions(path: str | Path) -> list[Disposition]:
    """Dispositions from a JSON lines file (an export of ``clue.dispositions``); the topic's
    other records, clue transitions, are skipped; a bad line raises ValueError naming it."""
    out = []
    with Path(path).open("rb") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                record = parse_clue_record(line)
            except (orjson.JSONDecodeError, TypeError, ValueError) as exc:
                raise ValueError(f"{path}:{number}: not a disposition record: {exc}") from None
            if isinstance(record, Disposition):
                out.append(record)
    return out


def in_window(
    dispositions: Iterable[Disposition],
    warnings: Iterable[RiskWarning],
    since_ms: int | None,
    until_ms: int | None,
) -> list[Disposition]:
    """The verdicts about warnings in ``[since_ms, until_ms)``, for a backtest's ``--from`` /
    ``--to``. ``warnings`` are all the backtest raised (warm-up included): a verdict is placed
    at the times of the warnings it lists, else of the warnings of its rule and key, else
    (nothing of it was raised) at the time it was given. A clue of the window that the rules
    missed still counts against recall; a clue of other days counts nowhere.

    >>> from envelope.events import Disposition, RiskWarning
    >>> w = RiskWarning(id="w1", fingerprint="f", rule_id="r", rule_version=1,
    ...     logic_hash="h", severity="high", title="t", key="A", ts_ms=10, region="x",
    ...     department="d")
    >>> d = [Disposition(id=f"d{i}", clue_id=f"c{i}", rule_id="r", key=k, outcome="confirmed",
    ...     code="x", actor="insp", ts_ms=ts, warning_ids=ids)
    ...     for i, (k, ts, ids) in enumerate([("Z", 99, ("w1",)), ("A", 99, ()), ("B", 99, ())])]
    >>> [v.id for v in in_window(d, [w], 0, 50)], [v.id for v in in_window(d, [w], 50, None)]
    (['d0', 'd1'], ['d2'])
    """
    by_id: dict[str, int] = {}
    by_key: dict[tuple[str, str], list[int]] = {}
    for w in warnings:
        by_id[w.id] = w.ts_ms
        by_key.setdefault((w.rule_id, w.key), []).append(w.ts_ms)

    def inside(ts_ms: int) -> bool:
        return (since_ms is None or ts_ms >= since_ms) and (until_ms is None or ts_ms < until_ms)

    out = []
    for d in dispositions:
        times = [by_id[i] for i in d.warning_ids if i in by_id]
        times = times or by_key.get((d.rule_id, d.key)) or [d.ts_ms]
        if any(inside(t) for t in times):
            out.append(d)
    return out


def score_verdicts(
    warnings: Iterable[RiskWarning], dispositions: Iterable[Disposition]
) -> dict[str, VerdictScore]:
    """Per rule id: warnings, confirmed, dismissed, and recall of confirmed clues."""
    latest = sorted(dispositions, key=lambda d: d.ts_ms)
    by_id: dict[str, Disposition] = {}
    by_key: dict[tuple[str, str], Disposition] = {}
    confirmed: dict[str, Disposition] = {}
    for d in latest:
        by_id.update({wid: d for wid in d.warning_ids})
        by_key[(d.rule_id, d.key)] = d
        if d.outcome == "confirmed":
            confirmed[d.clue_id] = d
        else:
            confirmed.pop(d.clue_id, None)
    scores: dict[str, VerdictScore] = {}
    found: set[str] = set()
    for w in warnings:
        s = scores.setdefault(w.rule_id, VerdictScore(w.rule_id))
        s.warnings += 1
        verdict = by_id.get(w.id) or by_key.get((w.rule_id, w.key))
        if verdict is None:
            continue
        if verdict.outcome == "confirmed":
            s.confirmed += 1
            found.add(verdict.clue_id)
        elif verdict.outcome == "dismissed":
            s.dismissed += 1
    for clue, d in confirmed.items():
        s = scores.setdefault(d.rule_id, VerdictScore(d.rule_id))
        s.clues += 1
        s.found += clue in found
    return dict(sorted(scores.items()))


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.0%}"


def format_verdicts(scores: Mapping[str, VerdictScore]) -> str:
    """An aligned table, one row per rule."""
    header = ["rule", "warnings", "confirmed", "dismissed", "unlabelled", "precision", "recall"]
    rows = [
        [
            s.rule,
            str(s.warnings),
            str(s.confirmed),
            str(s.dismissed),
            str(s.unlabelled),
            _pct(s.precision),
            f"{_pct(s.recall)} ({s.found}/{s.clues})",
        ]
        for s in scores.values()
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(
            [r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)]
        )
        for r in [header, *rows]
    ]
    return "\n".join(lines)
