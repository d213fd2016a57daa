"""One partition of every key space: the engines that own the keys hashing to partition p.

The live worker keeps one :class:`Shard` per partition of its repartition topic and
``backtest`` one per ``--partitions``; both feed it through the same methods, so they agree.
A shard holds an :class:`~rules.engine.engine.Engine` per key space of the rule set
(:class:`~rules.engine.keyspace.KeyPlan`), each running only that key space's rules, and the
event time its inputs have reached.

Event time across the shuffle is what Kafka Streams and Flink do: a shard is fed by many
*sources* (each partition of each input topic, as the router read it), each in its own order;
its watermark is the minimum of what every source has reached, less the lateness, so one
source running ahead cannot fire a deadline that an event still in another source would have
met. A source reports how far it has got with its events and in progress-only records when it
has nothing to send; a source that has gone quiet is released and stops holding the others
back (:class:`~rules.engine.watermark.InputClock`). The ``source: warnings`` key spaces are fed
warnings (raised in any key space, routed by their own key) and follow the events' clock.

Events are applied in event time, whatever order their sources deliver them in: a routed
event is held until every source has reached past its time (the clock's ``reached``), then
applied in ``(time, id)`` order with the watermark trailing it by the lateness, as one engine
reading the whole stream in event-time order would (Flink sorts a keyed stream by event time
the same way). Sources deliver in their own order, so an event older than what every source
has reached is applied at once, as a late one, when it is still inside the lateness. Without
this, a key fed by two sources (a citizen at two district halls, an account read in several
districts) would see its events in arrival order: a threshold firing at another event, a
fulfilment arriving before its anchor and missed.

State is the engines' state (a rule's namespace is unique to its key space; the engine-level
keys are prefixed with the key space) plus the clocks and the held events, saved and restored
as one mapping.

Pure: no broker, no clock.
"""

from __future__ import annotations

import heapq
import pickle
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from envelope.events import Event, RiskWarning
from rules.engine.admission import ADMITTED, DUPLICATE, Admission, Bounds
from rules.engine.engine import ENGINE_KEY, Engine
from rules.engine.keyspace import KeyPlan
from rules.engine.watermark import InputClock
from rules.language.model import Rule
from rules.language.ruleset import RuleSet
from rules.types.heartbeat import HeartbeatEvaluator

SHARD_NS = "__shard__"
CLOCK_KEY = (SHARD_NS, "clock")
HELD_KEY = (SHARD_NS, "held")  # events routed here, not applied yet
DUPLICATE_HELD = Admission(DUPLICATE, "duplicate of an event waiting to be applied")
GONE = Admission("gone", "its key space is no longer in the rule set")
ENGINE_NS = ENGINE_KEY[0]


class Shard:
    """The engines of partition ``partition`` of every key space of ``plan``."""

    def __init__(
        self,
        plan: KeyPlan | RuleSet,
        partition: int = 0,
        lateness_ms: int = 300_000,
        bounds: Bounds | None = None,
        sources: Iterable[str] = (),
        partitions: int | None = None,
    ) -> None:
        self.plan = plan if isinstance(plan, KeyPlan) else KeyPlan(plan)
        self.partition = partition
        self.lateness_ms = lateness_ms
        self.engines = {
            ks.name: Engine(ks.ruleset, partition, lateness_ms, bounds) for ks in self.plan.spaces
        }
        if partitions is not None:  # one of ``partitions`` shards: listed keys live on one
            _own_listed_keys(self.engines.values(), partition, partitions)
        self.clock = InputClock(sources)
        self._clock_dirty = False
        # (ts, id, arrival, key space, event): what waits for every source to pass its time
        self.held: list[tuple[int, str, int, str, Event]] = []
        self._held_ids: set[tuple[str, str]] = set()
        self._arrivals = 0

    # -- feeding ------------------------------------------------------------------------

    def admit(self, ev: Event, now_ms: int, space: str | None = None) -> Admission:
        """Whether key space ``space`` (default: the first that can use ``ev``) would take it."""
        if space is None:
            space = next((ks.name for ks, _ in self.plan.route(ev)), "")
        engine = self.engines.get(space)
        return GONE if engine is None else engine.admit(ev, now_ms)

    def apply(
        self, space: str, source: str, ev: Event, now_ms: int, age_from_ms: int | None = None
    ) -> tuple[Admission, list[RiskWarning]]:
        """Admit ``ev`` into key space ``space`` (event-time bounds, duplicate, too late) and
        apply it with the watermark held to what every source reached. A refused event moves
        nothing; a key space no longer running takes nothing (``gone``)."""
        engine = self.engines.get(space)
        if engine is None:
            return GONE, []
        admission = engine.admit(ev, now_ms, age_from_ms)
        if not admission.ok:
            return admission, []
        if (space, ev.id) in self._held_ids:
            return DUPLICATE_HELD, []
        self._arrivals += 1
        heapq.heappush(self.held, (ev.ts_ms, ev.id, self._arrivals, space, ev))
        self._held_ids.add((space, ev.id))
        reached = self.clock.observe(source, ev.ts_ms)
        self._clock_dirty = True
        return ADMITTED, self._drain(reached)

    def _drain(self, reached: int | None, everything: bool = False) -> list[RiskWarning]:
        """Apply, in ``(time, id)`` order, the held events older than ``reached`` (all of
        them with ``everything``, or when no source is waited for: every source has gone
        quiet, nothing is on its way), each with the watermark a lateness behind it; then
        move every engine's watermark to ``reached`` less the lateness."""
        out: list[RiskWarning] = []
        held = self.held
        quiet: bool | None = None  # every source quiet, all is here: asked once, when needed
        while held:
            if not everything and (reached is None or held[0][0] >= reached):
                if quiet is None:
                    quiet = not self.clock.any_holding()
                if not quiet:
                    break
            ts, ev_id, _, space, ev = heapq.heappop(held)
            self._held_ids.discard((space, ev_id))
            self._clock_dirty = True
            engine = self.engines.get(space)
            if engine is not None:  # else its key space left the rule set while it waited
                out.extend(engine.process(ev, advance=False, watermark=ts - self.lateness_ms))
        if reached is not None:
            out.extend(self._advance(reached))
        return out

    def process(self, ev: Event) -> list[RiskWarning]:
        """``ev`` applied in every key space that can use it, with the shard's own time moving
        as one engine's does (:meth:`Engine.process`): a shard holding every key, as one
        partition does."""
        out: list[RiskWarning] = []
        for ks, _key in self.plan.route(ev):
            out.extend(self.engines[ks.name].process(ev))
        return out

    @property
    def runners(self) -> list[Any]:
        return [r for e in self.engines.values() for r in e.runners]

    def apply_warning(self, space: str, w: RiskWarning) -> list[RiskWarning]:
        """A warning of another key space into the ``source: warnings`` rules of ``space``,
        once per warning id; returns what they raise (the caller routes those on)."""
        engine = self.engines.get(space)
        if engine is None or engine.seen.seen_at(w.id, engine.watermark_ms) is not None:
            return []
        engine.seen.applied(w.id, w.ts_ms)
        if engine.max_ts_ms is None or w.ts_ms > engine.max_ts_ms:
            engine.max_ts_ms = w.ts_ms
        return engine.take_warnings([w])

    def progress(self, source: str, ts_ms: int) -> list[RiskWarning]:
        """``source`` has reached ``ts_ms`` (a progress-only record, or the backtest's clock):
        what the shard's watermark now passes fires."""
        before = self.clock.reached()
        reached = self.clock.observe(source, ts_ms)
        if reached is None or reached == before:
            return []
        self._clock_dirty = True
        return self._drain(reached)

    def release(self, source: str) -> list[RiskWarning]:
        """``source`` went quiet: it stops holding the watermark back until it delivers."""
        if not self.clock.release(source):
            return []
        self._clock_dirty = True
        return self._drain(self.clock.reached())

    def _advance(self, reached: int) -> list[RiskWarning]:
        out: list[RiskWarning] = []
        wm = reached - self.lateness_ms
        for engine in self.engines.values():
            if wm > engine.watermark_ms:
                if engine.max_ts_ms is None:  # nothing seen yet: start the clock here
                    engine.max_ts_ms = reached
                out.extend(engine.advance_to(wm))
        return out

    def advance_to(self, wm_ms: int) -> list[RiskWarning]:
        """Every held event applied, then every engine's watermark to ``wm_ms`` (the end of
        a closed file)."""
        out = self._drain(None, everything=True)
        return out + [w for e in self.engines.values() for w in e.advance_to(wm_ms)]

    def advance_idle(self, elapsed_ms: int) -> list[RiskWarning]:
        """No input for a while (every source quiet): what is held is applied, then event
        time follows the elapsed wall time."""
        out = self._drain(None, everything=True)
        return out + [w for e in self.engines.values() for w in e.advance_idle(elapsed_ms)]

    def feedback(self, rule_id: str, key: str, outcome: str) -> bool:
        return any(e.feedback(rule_id, key, outcome) for e in self._owning(rule_id))

    def seed(self, events: Iterable[tuple[str, Event]]) -> int:
        """Learn silently from past ``(key space, event)`` pairs of this partition."""
        per_space: dict[str, list[Event]] = {}
        for space, ev in events:
            per_space.setdefault(space, []).append(ev)
        return sum(
            self.engines[space].seed(evs)
            for space, evs in per_space.items()
            if space in self.engines
        )

    # -- what the worker shows ----------------------------------------------------------

    @property
    def max_ts_ms(self) -> int | None:
        times = [e.max_ts_ms for e in self.engines.values() if e.max_ts_ms is not None]
        return max(times) if times else None

    @property
    def watermark_ms(self) -> int:
        """The least watermark of the key spaces that have seen anything."""
        marks = [e.watermark_ms for e in self.engines.values() if e.max_ts_ms is not None]
        return (
            min(marks) if marks else min((e.watermark_ms for e in self.engines.values()), default=0)
        )

    @property
    def stats(self) -> dict[str, Counter[str]]:
        return {rule_id: c for e in self.engines.values() for rule_id, c in e.stats.items()}

    def key_count(self) -> int:
        return sum(e.key_count() for e in self.engines.values())

    def models(self) -> Iterator[tuple[Rule, Any]]:
        for e in self.engines.values():
            yield from e.models()

    def engine_of(self, rule_id: str) -> Engine:
        for e in self._owning(rule_id):
            return e
        raise KeyError(rule_id)

    def state_of(self, rule_id: str, key: str) -> dict[str, Any]:
        return self.engine_of(rule_id).state_of(rule_id, key)

    def _owning(self, rule_id: str) -> Iterator[Engine]:
        ks = self.plan.space_of(rule_id)
        if ks is not None and ks.name in self.engines:
            yield self.engines[ks.name]

    # -- durability ---------------------------------------------------------------------

    def export_dirty(self) -> dict[tuple[str, str], bytes | None]:
        """What changed since the last call, as ``{(namespace, key): pickled or None}``."""
        out: dict[tuple[str, str], bytes | None] = {}
        for name, engine in self.engines.items():
            for (ns, key), blob in engine.export_dirty().items():
                out[(f"{ENGINE_NS}{name}" if ns == ENGINE_NS else ns, key)] = blob
        if self._clock_dirty:
            out[CLOCK_KEY] = pickle.dumps(self.clock.to_dict(), protocol=5)
            out[HELD_KEY] = pickle.dumps([(sp, ev.to_dict()) for *_, sp, ev in self.held], 5)
            self._clock_dirty = False
        return out

    def restore(self, items: Iterable[tuple[tuple[str, str], bytes]]) -> int:
        """Load what :meth:`export_dirty` wrote; state of rules no longer running is skipped."""
        per_engine: dict[str, list[tuple[tuple[str, str], bytes]]] = {}
        owner = {ns: name for name, e in self.engines.items() for ns in e.states}
        for (ns, key), blob in items:
            if (ns, key) == CLOCK_KEY:
                self.clock = InputClock.from_dict(pickle.loads(blob), self.clock.expected)
                continue
            if (ns, key) == HELD_KEY:
                self._hold_again(pickle.loads(blob))
                continue
            if ns.startswith(ENGINE_NS) and ns[len(ENGINE_NS) :] in self.engines:
                per_engine.setdefault(ns[len(ENGINE_NS) :], []).append(((ENGINE_NS, key), blob))
            elif ns in owner:
                per_engine.setdefault(owner[ns], []).append(((ns, key), blob))
        return sum(self.engines[name].restore(its) for name, its in per_engine.items())

    def _hold_again(self, saved: list[tuple[str, dict[str, Any]]]) -> None:
        self.held, self._held_ids = [], set()
        for space, doc in saved:
            ev = Event.from_dict(doc)
            self._arrivals += 1
            self.held.append((ev.ts_ms, ev.id, self._arrivals, space, ev))
            self._held_ids.add((space, ev.id))
        heapq.heapify(self.held)

    @staticmethod
    def keeps(ns: str) -> bool:
        """Namespaces a rule swap never drops (engine clocks, seen ids, the shard's clocks):
        those of key spaces gone are skipped on restore."""
        return ns.startswith(ENGINE_NS) or ns == SHARD_NS


def _own_listed_keys(engines: Iterable[Engine], partition: int, partitions: int) -> None:
    """A heartbeat's listed keys are expected only on the shard their key hashes to, where
    their beats are routed; on every shard each would be silent everywhere but one."""

    def owns(key: str) -> bool:
        return KeyPlan.partition(key, partitions) == partition

    for engine in engines:
        for runner in engine.runners:
            if isinstance(runner.evaluator, HeartbeatEvaluator):
                runner.evaluator.own_listed(owns)
