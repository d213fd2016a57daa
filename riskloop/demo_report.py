"""What the demo reads from the worker's metrics and prints as its summary table."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from clues.model import SEVERITY_RANK
from riskloop.metrics_text import metric_sum, samples


@dataclass(frozen=True)
class WorkerCounts:
    """Totals read from the worker's /metrics page."""

    events_in: int = 0
    deadletters: int = 0
    warnings: int = 0
    deadletter_reasons: tuple[tuple[str, int], ...] = ()  # (reason kind, events), most first

    @property
    def handled(self) -> int:
        return self.events_in + self.deadletters


def worker_counts(metrics_text: str) -> WorkerCounts:
    """Sum the worker's event, dead-letter and warning counters over all their labels.

    >>> text = '''riskloop_events_in_total{topic="events.service"} 7.0
    ... riskloop_events_in_total{topic="events.regulatory"} 3.0
    ... riskloop_deadletters_total{topic="events.service",reason="bad_json"} 1.0
    ... riskloop_warnings_created{rule="r",severity="high",region="1",department="d"} 1.7e9
    ... '''
    >>> worker_counts(text)
    WorkerCounts(events_in=10, deadletters=1, warnings=0, deadletter_reasons=(('bad_json', 1),))
    """
    reasons: Counter[str] = Counter()
    for s in samples(metrics_text, "riskloop_deadletters_total"):
        reasons[s.labels.get("reason", "other")] += int(s.value)
    return WorkerCounts(
        events_in=int(metric_sum(metrics_text, "riskloop_events_in_total")),
        deadletters=int(metric_sum(metrics_text, "riskloop_deadletters_total")),
        warnings=int(metric_sum(metrics_text, "riskloop_warnings_total")),
        deadletter_reasons=tuple((r, n) for r, n in reasons.most_common() if n),
    )


def format_clue_table(by_rule: Counter[tuple[str, str]] | dict[tuple[str, str], int]) -> str:
    """Clues per rule (rows) and severity (columns, most severe first), with totals."""
    rules = sorted({rule for rule, _ in by_rule})
    severities = sorted({sev for _, sev in by_rule}, key=lambda s: (-SEVERITY_RANK.get(s, -1), s))
    width = max([len("total"), *map(len, rules)]) + 2
    cols = [max(len(sev), 5) for sev in severities]

    def row(name: str, cells: list[int], total: int) -> str:
        shown = [f"{n if n else '-':>{w}}" for n, w in zip(cells, cols, strict=True)]
        return f"  {name:<{width}}" + "  ".join(shown) + f"  {total:>5}"

    header = f"  {'rule':<{width}}" + "  ".join(
        f"{s:>{w}}" for s, w in zip(severities, cols, strict=True)
    )
    lines = [header + f"  {'total':>5}"]
    for rule in rules:
        cells = [by_rule.get((rule, sev), 0) for sev in severities]
        lines.append(row(rule, cells, sum(cells)))
    totals = [sum(by_rule.get((r, sev), 0) for r in rules) for sev in severities]
    lines.append(row("total", totals, sum(totals)))
    return "\n".join(lines)
