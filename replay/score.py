"""Detection scores: how many labelled scenarios the warnings found, and how many warnings hit one.

A label (from the simulator, or from confirmed clues) is a dict
``{"scenario", "key", "start", "end", "region", "note"}`` with ISO 8601 (or epoch ms) times.
A rule declares the scenario it is meant to catch with a tag ``scenario:<name>``. A warning
*matches* a label when one of its rule's scenario tags names the label's scenario, its key
equals the label's key, and its event time lies in ``[start, end + grace_ms]`` (the grace
lets a deadline or a window close after the scenario's last event).

Per scenario: recall = labels detected / labels; precision = matching warnings / warnings of
rules tagged for the scenario, less those that match a label of another scenario their rule
is tagged for (a rule may catch two kinds of case: each kind's precision counts the rule's
false alarms, not its finds of the other kind). Warnings of a rule with no scenario tag are
counted in an ``untagged`` row with no precision (they were never meant to match a label),
and left out of the totals. Pure: no clock, no I/O.

Examples:
    >>> from envelope.events import RiskWarning
    >>> w = RiskWarning(id="w1", fingerprint="f", rule_id="r", rule_version=1, logic_hash="h",
    ...     severity="high", title="t", key="A-1", ts_ms=1_772_500_000_000, region="330106",
    ...     department="d", tags=("scenario:approval_overdue",))
    >>> label = {"scenario": "approval_overdue", "key": "A-1", "start": 1_772_400_000_000,
    ...     "end": 1_772_490_000_000}
    >>> s = score([w], [label])["approval_overdue"]
    >>> (s.labels, s.detected, s.recall, s.warnings, s.matched, s.precision)
    (1, 1, 1.0, 1, 1, 1.0)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from envelope.events import RiskWarning, parse_ts_ms

SCENARIO_TAG = "scenario:"
UNTAGGED = "untagged"
DEFAULT_GRACE_MS = 6 * 3600 * 1000


@dataclass
class Score:
    """Counts for one scenario; ratios are None when their denominator is zero."""

    scenario: str
    labels: int = 0
    detected: int = 0
    warnings: int = 0
    matched: int = 0
    missed: list[str] = field(default_factory=list)
    untagged: bool = False  # warnings of rules with no scenario tag: nothing to match

    @property
    def recall(self) -> float | None:
        return self.detected / self.labels if self.labels else None

    @property
    def precision(self) -> float | None:
        return self.matched / self.warnings if self.warnings and not self.untagged else None


def scenarios_of(warning: RiskWarning) -> list[str]:
    """The scenarios a warning's rule is tagged for.

    >>> scenarios_of(RiskWarning(id="w", fingerprint="f", rule_id="r", rule_version=1,
    ...     logic_hash="h", severity="low", title="t", key="k", ts_ms=0, region="r",
    ...     department="d", tags=("domain:x", "scenario:hotline_surge")))
    ['hotline_surge']
    """
    return [t[len(SCENARIO_TAG) :] for t in warning.tags if t.startswith(SCENARIO_TAG)]


def label_window_ms(label: Mapping[str, Any]) -> tuple[int, int]:
    """``(start_ms, end_ms)`` of a label whose times are ISO 8601 strings or epoch ms."""
    return _ms(label["start"]), _ms(label["end"])


def _ms(value: Any) -> int:
    return value if isinstance(value, int) else parse_ts_ms(value)


def score(
    warnings: Iterable[RiskWarning],
    labels: Iterable[Mapping[str, Any]],
    grace_ms: int = DEFAULT_GRACE_MS,
) -> dict[str, Score]:
    """Recall and precision per scenario (every scenario of a label or a tagged rule);
    ``resolved`` warnings are not counted: they end a risk another warning raised."""
    scores: dict[str, Score] = {}
    windows: dict[tuple[str, str], list[tuple[int, int, int]]] = defaultdict(list)
    found: dict[str, set[int]] = defaultdict(set)
    label_keys: list[str] = []
    for index, label in enumerate(labels):
        scenario = str(label["scenario"])
        start_ms, end_ms = label_window_ms(label)
        windows[(scenario, str(label["key"]))].append((start_ms, end_ms + grace_ms, index))
        label_keys.append(str(label["key"]))
        _get(scores, scenario).labels += 1
    for warning in warnings:
        if warning.stage == "resolved":  # an end of a risk already counted, not a detection
            continue
        tagged = scenarios_of(warning)
        if not tagged:
            s = _get(scores, UNTAGGED)
            s.untagged = True
            s.warnings += 1
            continue
        hits = {
            scenario: [
                i
                for lo, hi, i in windows.get((scenario, warning.key), ())
                if lo <= warning.ts_ms <= hi
            ]
            for scenario in tagged
        }
        for scenario in tagged:
            if not hits[scenario] and any(hits.values()):
                continue  # it found another scenario its rule is tagged for: no miss here
            s = _get(scores, scenario)
            s.warnings += 1
            if hits[scenario]:
                s.matched += 1
                found[scenario].update(hits[scenario])
    for (scenario, _key), entries in windows.items():
        s = scores[scenario]
        for _lo, _hi, index in entries:
            if index in found[scenario]:
                s.detected += 1
            else:
                s.missed.append(label_keys[index])
    return dict(sorted(scores.items()))


def _get(scores: dict[str, Score], scenario: str) -> Score:
    if scenario not in scores:
        scores[scenario] = Score(scenario)
    return scores[scenario]


def _ratio(value: float | None, untagged: bool = False) -> str:
    return UNTAGGED if untagged else "-" if value is None else f"{value:.0%}"


def format_table(scores: Mapping[str, Score]) -> str:
    """An aligned text table, one row per scenario and a total row.

    >>> print(format_table({"a": Score("a", labels=4, detected=3, warnings=5, matched=3),
    ...     "untagged": Score("untagged", warnings=2, untagged=True)}))
    scenario  labels  detected  recall  warnings  matched  precision
    a              4         3     75%         5        3        60%
    untagged       0         0       -         2        0   untagged
    all            4         3     75%         5        3        60%
    """
    tagged = [s for s in scores.values() if not s.untagged]
    total = Score(
        "all",
        labels=sum(s.labels for s in tagged),
        detected=sum(s.detected for s in tagged),
        warnings=sum(s.warnings for s in tagged),
        matched=sum(s.matched for s in tagged),
    )
    header = ["scenario", "labels", "detected", "recall", "warnings", "matched", "precision"]
    rows = [
        [s.scenario, str(s.labels), str(s.detected), _ratio(s.recall), str(s.warnings)]
        + [str(s.matched), _ratio(s.precision, s.untagged)]
        for s in [*scores.values(), total]
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for r in [header, *rows]:
        cells = [r[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)
