"""Benchmark of the pure rule engine: ``python -m rules.tools.bench [--days 30] [--seed 11]``.

Runs a simulated month (replay.simulator) through one engine with the shipped library
and prints figures; nothing is asserted. Events are parsed before timing: the figures
are the core's own cost (``Engine.process`` and the final watermark move).

- throughput: events/s of the whole library on one core, by the wall clock and by the
  process's CPU time (the second is less disturbed by other work on the machine), against
  the goal of 100,000 events/s;
- per rule: the added cost in µs per event of an engine holding only that rule (the
  empty engine's routing cost is printed first), grouped by rule type;
- state: keys held at the end, and per key the bytes in memory (a deep ``getsizeof``;
  an event a window keeps for its output counts) and in the checkpoint (pickled bytes,
  what the worker writes to its state table).
"""

from __future__ import annotations

import argparse
import gc
import pickle
import sys
import time
from collections import defaultdict, deque
from collections.abc import Sequence
from pathlib import Path
from types import FunctionType, ModuleType
from typing import Any

from envelope.events import Event
from rules.engine.engine import Engine
from rules.language.ruleset import RuleSet, load_rules

LIBRARY = Path(__file__).resolve().parents[1] / "library"


def simulated_events(days: int, seed: int, scale: float) -> list[Event]:
    from replay.simulator import generate  # replay is not a dependency of the core

    rows, _labels = generate(seed=seed, days=days, scale=scale)
    return [Event.from_dict(r) for r in rows]


GOAL_EVENTS_PER_S = 100_000
GOAL_BYTES_PER_KEY = 300
WINDOWED = {"threshold", "ratio", "spike"}  # rule types with sliding windows


def run(
    ruleset: RuleSet, events: Sequence[Event], lateness_ms: int = 300_000
) -> tuple[float, Engine, int]:
    """Seconds to process ``events`` (and move the watermark to the end), the engine, and
    the number of warnings (see :func:`timed` for the CPU time too)."""
    elapsed, _cpu, engine, n = timed(ruleset, events, lateness_ms)
    return elapsed, engine, n


def timed(
    ruleset: RuleSet, events: Sequence[Event], lateness_ms: int = 300_000
) -> tuple[float, float, Engine, int]:
    """Wall seconds and CPU seconds to process ``events``, the engine, the warnings."""
    engine = Engine(ruleset, lateness_ms=lateness_ms)
    gc.collect()
    gc.disable()
    try:
        started, cpu_started = time.perf_counter(), time.process_time()
        n = 0
        process = engine.process
        for ev in events:
            n += len(process(ev))
        if engine.max_ts_ms is not None:
            n += len(engine.advance_to(engine.max_ts_ms))
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
    finally:
        gc.enable()
    return elapsed, cpu, engine, n


def deep_size(obj: Any, seen: set[int] | None = None) -> int:
    """Approximate bytes an object holds in memory, containers and slots included (the
    slots of every class in its hierarchy); objects already in ``seen`` (shared ones: the
    rule, its evaluator), the small integers every process shares, and classes, functions
    and modules are not counted.

    >>> deep_size([1, 2]) > deep_size([])
    True
    """
    seen = set() if seen is None else seen
    if id(obj) in seen or isinstance(obj, type | ModuleType | FunctionType):
        return 0
    if type(obj) is int and -5 <= obj <= 256:  # cached by the interpreter
        return 0
    seen.add(id(obj))
    size = sys.getsizeof(obj)
    if isinstance(obj, dict):
        size += sum(deep_size(k, seen) + deep_size(v, seen) for k, v in obj.items())
    elif isinstance(obj, list | tuple | set | frozenset | deque):
        size += sum(deep_size(x, seen) for x in obj)
    elif isinstance(obj, str | bytes | int | float | bool):
        pass
    else:
        slots = {s for c in type(obj).__mro__ for s in _slot_names(c)}
        size += sum(deep_size(getattr(obj, s, None), seen) for s in sorted(slots))
        if hasattr(obj, "__dict__"):
            size += deep_size(vars(obj), seen)
    return size


def _slot_names(cls: type) -> tuple[str, ...]:
    slots = vars(cls).get("__slots__", ())
    names = (slots,) if isinstance(slots, str) else tuple(slots)
    return tuple(s for s in names if s not in ("__dict__", "__weakref__"))


def shared_ids(engine: Engine) -> set[int]:
    """Objects every key of a rule refers to without owning them: not part of its size."""
    out = {id(None), id(True), id(False)}
    for r in engine.runners:
        out.update(id(x) for x in (r, r.rule, getattr(r, "evaluator", None), engine))
    return out


def state_sizes(engine: Engine) -> list[tuple[str, int, float, float]]:
    """Per rule: (rule id, keys held, mean bytes in memory and pickled per key)."""
    out = []
    for r in engine.runners:
        keys = r.state.keys
        pickled = sum(len(pickle.dumps(v, protocol=5)) for v in keys.values())
        shared = shared_ids(engine)
        memory = sum(deep_size(v, set(shared)) for v in keys.values())
        n = len(keys) or 1
        out.append((r.rule.id, len(keys), memory / n, pickled / n))
    return out


def report(ruleset: RuleSet, events: Sequence[Event], repeat: int) -> str:
    lines = []
    runs = [timed(ruleset, events) for _ in range(repeat)]
    best, best_cpu = min(r[0] for r in runs), min(r[1] for r in runs)
    _, _, engine, warnings = runs[-1]
    lines.append(
        f"library: {len(ruleset.rules)} rules, {len(events):,} events, {warnings:,} warnings"
    )
    rate, cpu_rate = len(events) / best, len(events) / max(best_cpu, 1e-9)
    lines.append(
        f"throughput: {rate:,.0f} events/s ({best:.2f} s, best of {repeat});"
        f" by CPU time {cpu_rate:,.0f} events/s"
    )
    lines.append(
        f"goal {GOAL_EVENTS_PER_S:,} events/s on one core: {rate / GOAL_EVENTS_PER_S:.2f}x"
        f" ({'met' if rate >= GOAL_EVENTS_PER_S else 'not met'} by the wall clock)"
    )
    base = min(run(RuleSet([]), events)[0] for _ in range(repeat))
    lines.append(f"empty engine (routing, clock): {base / len(events) * 1e6:.2f} µs/event")
    by_type: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for rule in ruleset.rules:
        t = min(run(RuleSet([rule]), events)[0] for _ in range(repeat))
        by_type[rule.type].append((rule.id, max(t - base, 0.0) / len(events) * 1e6))
    lines.append("cost per rule (µs per event of the stream, above the empty engine):")
    for rtype in sorted(by_type):
        costs = by_type[rtype]
        total = sum(c for _, c in costs)
        lines.append(f"  {rtype:<10} {total:6.2f}  " + ", ".join(f"{i} {c:.2f}" for i, c in costs))
    lines.append("state at the end (keys; mean bytes per key in memory / in the checkpoint):")
    types = {r.id: r.type for r in ruleset.rules}
    sizes = state_sizes(engine)
    for rule_id, keys, memory, pickled in sizes:
        lines.append(
            f"  {rule_id:<36} {types[rule_id]:<10} {keys:>7,} keys"
            f"  {memory:>8,.0f} / {pickled:>7,.0f} B"
        )
    held = [(m, p) for rule_id, k, m, p in sizes if k and types[rule_id] in WINDOWED]
    lines.append(
        f"goal {GOAL_BYTES_PER_KEY} B per key of a windowed rule: met by"
        f" {sum(m <= GOAL_BYTES_PER_KEY for m, _ in held)} of {len(held)} in memory,"
        f" {sum(p <= GOAL_BYTES_PER_KEY for _, p in held)} in the checkpoint"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m rules.tools.bench", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--days", type=int, default=30, help="days of simulated events (30)")
    parser.add_argument("--seed", type=int, default=11, help="simulator seed (11)")
    parser.add_argument("--scale", type=float, default=1.0, help="simulator scale (1.0)")
    parser.add_argument("--repeat", type=int, default=2, help="runs per figure, best kept (2)")
    parser.add_argument("--rules", default=str(LIBRARY), help="rules folder (the library)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    events = simulated_events(args.days, args.seed, args.scale)
    print(
        f"simulated {args.days} days: {len(events):,} events"
        f" in {time.perf_counter() - started:.1f} s"
    )
    print(report(load_rules(args.rules), events, max(1, args.repeat)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
