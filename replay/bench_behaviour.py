"""The behaviour scenarios of :mod:`replay.sim_behaviour` as a benchmark: per scenario the
recall and precision of the rules meant for it, the median time to detect and the false
alarms per 10,000 of the events those rules score; per rule the cost per event and the bytes
it keeps per key. Prints figures, asserts nothing (``riskloop bench detectors --sim-seeds``).
"""

from __future__ import annotations

import pickle
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envelope.events import Event, RiskWarning, parse_ts_ms
from replay.score import Score, format_table, label_window_ms, score
from replay.sim_behaviour import LIBRARY, MEANT_FOR, backtest_behaviour, generate_behaviour
from rules.engine.runner import make_evaluator
from rules.engine.timers import Timers, Wake
from rules.language.model import parse_rule
from rules.types.common import RuleState

MINUTE_MS = 60_000


@dataclass
class RuleCost:
    """What one rule costs on the scored days: µs per matched event; pickled bytes per key of
    its per-key baselines (``per_key``) and of its per-key feature state; and the kilobytes of
    what the rule keeps once (per ``model_by`` value: adaptive thresholds, shared models)."""

    rule: str
    events: int
    us_per_event: float
    baseline_bytes_per_key: float
    state_bytes_per_key: float
    shared_kb: float


def _types(rule_path: Path) -> frozenset[str]:
    rule = parse_rule(rule_path.read_text(), str(rule_path))
    types = rule.match.types if rule.match is not None else None
    return frozenset(types or ())


def rule_cost(rule_path: Path, history: list[dict], events: list[dict]) -> RuleCost:
    """Run one rule's evaluator over the history and the scored events directly (no engine
    around it, so no watermark: a windowed rule's keys are never forgotten), timing the
    scored ones."""
    rule = parse_rule(rule_path.read_text(), str(rule_path))
    types = _types(rule_path)
    evaluator, st = make_evaluator(rule, Timers(Wake())), RuleState()
    for d in history:
        if d["type"] in types:
            evaluator.on_event(Event.from_dict(d), st)
    scored = [Event.from_dict(d) for d in events if d["type"] in types]
    start = time.process_time()
    for ev in scored:
        evaluator.on_event(ev, st)
    spent = time.process_time() - start
    keys = max(1, len(st.keys))
    models = [m.detector for m in getattr(st.model, "models", {}).values()] or [
        getattr(st.model, "detector", None)
    ]
    per_key = [m for m in models if hasattr(m, "bytes_per_key")]  # per-key baselines
    baselines = sum(m.bytes_per_key() * len(m.keys()) for m in per_key)
    return RuleCost(
        rule.id,
        len(scored),
        spent / max(1, len(scored)) * 1e6,
        baselines / keys,
        len(pickle.dumps(st.keys)) / keys,
        (len(pickle.dumps(st.model)) - baselines) / 1024,
    )


def delays_min(warnings: list[RiskWarning], labels: list[dict[str, Any]], kind: str) -> list[float]:
    """Minutes from each found label's start to the first warning on its key inside it."""
    out = []
    for label in labels:
        if label["scenario"] != kind:
            continue
        lo, hi = label_window_ms(label)
        hits = [
            w.ts_ms
            for w in warnings
            if w.key == label["key"] and f"scenario:{kind}" in w.tags and lo <= w.ts_ms <= hi
        ]
        if hits:
            out.append((min(hits) - lo) / MINUTE_MS)
    return out


def scenario_table(
    scores: dict[str, Score],
    warnings: list[RiskWarning],
    labels: list[dict[str, Any]],
    scored_events: dict[str, int],
) -> str:
    """Per scenario: recall, precision, median minutes to detect, false alarms per 10k."""
    lines = [f"  {'scenario':<24}{'recall':>7}{'precision':>10}{'delay(min)':>11}{'FA/10k':>8}"]
    for kind, s in scores.items():
        rules = [r for r, kinds in MEANT_FOR.items() if kind in kinds]
        events = max((scored_events.get(r, 0) for r in rules), default=0)  # one stream
        delays = delays_min(warnings, labels, kind)
        recall = "-" if s.recall is None else f"{s.recall:.2f}"
        precision = "-" if s.precision is None else f"{s.precision:.2f}"
        delay = f"{statistics.median(delays):.0f}" if delays else "-"
        fa = (s.warnings - s.matched) / max(1, events) * 10_000
        lines.append(f"  {kind:<24}{recall:>7}{precision:>10}{delay:>11}{fa:>8.2f}")
    return "\n".join(lines)


def report(seeds: list[int], rules_dir: Path = LIBRARY) -> int:
    """Print, per seed, the scenario table and each rule's cost."""
    for seed in seeds:
        history, events, labels = generate_behaviour(seed)
        warnings = backtest_behaviour(history, events, rules_dir)
        scores = score(warnings, labels)
        costs = [
            rule_cost(rules_dir / f"{r}.yaml", history, events)
            for r in MEANT_FOR
            if (rules_dir / f"{r}.yaml").exists()
        ]
        first, last = parse_ts_ms(events[0]["ts"]), parse_ts_ms(events[-1]["ts"])
        days = round((last - first) / 86_400_000)
        print(f"behaviour scenarios, simulator seed {seed}: {len(events):,} events in {days} days")
        print(format_table(scores))
        print(scenario_table(scores, warnings, labels, {c.rule: c.events for c in costs}))
        for c in costs:
            print(
                f"  {c.rule}: {c.us_per_event:.1f} µs/event over {c.events:,} events, "
                f"per key {c.baseline_bytes_per_key:,.0f} bytes of baselines and "
                f"{c.state_bytes_per_key:,.0f} of feature state, {c.shared_kb:,.0f} KB shared"
            )
    return 0
