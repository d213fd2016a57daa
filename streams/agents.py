"""The job's shape: which agents run, over which topics, calling the pure core.

- ``ingest`` (:mod:`streams.ingest`): event topics, any producer keys -> validate -> route by
  each key space's key -> ``riskloop.rekeyed`` in batches with each source's progress
  (malformed or out-of-bounds input -> events.deadletter with its reason and bytes);
- ``evaluate`` (:mod:`streams.evaluate`): ``riskloop.rekeyed`` and ``risk.verdicts`` -> the
  shard of the partition -> risk.warnings;
- ``clue_sink``: risk.warnings -> Redis clue queue, in batches, idempotently;
- ``feedback``: clue.dispositions -> per-rule confirmed/dismissed counts and precision; a
  verdict on a detector rule's warning goes on to the partition of ``risk.verdicts`` that
  holds the rule's key, where ``evaluate`` hands it to the shard: the detector learns a
  dismissed warning as normal. On the event topics every record is an event, whatever its
  headers (see :mod:`streams.verdicts`);
- the rule-set follower: a new rule set swaps the shards' rules and the router's key spaces
  (a new key space needs no restart: it shares the repartition topic).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import faust
import redis.asyncio as aioredis

from clues.metrics import record_upserts
from clues.store import ClueStore
from envelope.checks import check_warning
from envelope.events import Disposition, RiskWarning, parse_clue_record
from envelope.settings import Settings
from envelope.topics import EVENT_TOPICS
from replay.seed import seed_file
from rules import RuleSet
from rules.engine.admission import Bounds
from rules.engine.keyspace import KeyPlan
from streams import linger
from streams import metrics as m
from streams.changelog import TableChangelog, faust_table_send
from streams.emit import Emitter, worker_masker
from streams.evaluate import evaluate_record
from streams.idle import advance_idle, checkpoint_quiet_partition
from streams.ingest import register_ingest
from streams.reload import RuleWatcher
from streams.ruleset_topic import RuleSetRecord, TopicRules, follow_forever
from streams.shuffle import space_key
from streams.state import PartitionEngines, checkpoint_on_stop
from streams.steps import InFlight, finish_before_cancel
from streams.topics import Topics
from streams.verdicts import Verdict, verdict_record

log = logging.getLogger("riskloop.worker")
RULE_STATS = ("emitted", "suppressed", "excepted", "shadow", "resolved", "learned", "errors")
SINK_BATCH = 500  # warnings per clue-sink write
STATE_RECORD_MAX_BYTES = 8 * 1024 * 1024  # the state changelog's record limit (the producer's)
CHANGELOG_CONFIRM_S = 10.0  # a checkpoint the broker has not confirmed by then has failed


@dataclass(frozen=True)
class Origin:
    """Where a worker following rules.sets stands: the running version, the next offset."""

    version: str
    follow_from: int


def register(
    app: faust.App, settings: Settings, ruleset: RuleSet, t: Topics, origin: Origin | None = None
) -> None:
    """Declare the worker's agents, timers and pages on ``app``: ingest (with its flush
    timer), evaluate (with its idle timer), the clue sink, feedback (with precision and rule
    statistics), the rule-set follower, and revocation."""
    state_table = app.Table(
        "shard-state",
        partitions=settings.partitions,
        # a bucket of a busy shard can pass the broker's default 1 MB record limit
        extra_topic_configs={"max.message.bytes": str(STATE_RECORD_MAX_BYTES)},
    )
    feedback_table = app.Table("feedback", partitions=settings.partitions)
    engines = PartitionEngines(
        ruleset,
        state_table,
        lateness_ms=settings.lateness_ms,
        checkpoint_every=settings.checkpoint_every,
        checkpoint_interval_s=settings.checkpoint_interval_s,
        sources=tuple(
            f"{topic}:{p}" for topic in EVENT_TOPICS.values() for p in range(settings.partitions)
        ),
        seed=seed_file(settings.seed_file, settings.partitions),
        bounds=Bounds.from_settings(settings),
        partitions=settings.partitions,
        changelog=TableChangelog(
            faust_table_send(state_table), state_table.data, CHANGELOG_CONFIRM_S
        ),
    )
    route = register_ingest(app, settings, t, engines.plan)

    def swap(new: RuleSet) -> None:
        engines.swap(new)
        route(engines.plan)

    rules = _follow_rules(app, settings, ruleset, swap, origin)
    _register_evaluate(app, settings, t, engines)
    _register_clue_sink(app, settings, t)
    _register_feedback(app, settings, t, feedback_table, engines)
    _register_rule_stats(app, engines, rules)


def _register_evaluate(
    app: faust.App, settings: Settings, t: Topics, engines: PartitionEngines
) -> None:
    """The evaluate agent, the timer that moves idle shards on, revocation, and the
    checkpoint on stop (``streams.app.WorkerApp.stop_hooks``). Warnings leave pseudonymised
    under the pseudonym key (``envelope.pseudonym``)."""

    def group_by(rule_id: str) -> tuple[str, ...] | None:
        try:
            return engines.ruleset.by_id(rule_id).group_by
        except KeyError:  # a rule removed by a reload since
            return None

    emit = Emitter(t, worker_masker(settings), group_by)
    steps = InFlight()

    @app.agent(t.evaluated, name="evaluate")
    async def evaluate(stream: faust.StreamT) -> None:
        # noack() is on faust's Stream, not on its StreamT protocol
        async for event in stream.noack().events():  # type: ignore[attr-defined]
            with steps:
                await evaluate_record(engines, emit, event)

    @app.timer(interval=1.0)
    async def idle_tick() -> None:
        with steps:
            await advance_idle(engines, emit, settings.idle_after_s)

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def on_revoked(app: faust.App, revoked: set[Any], **kwargs: Any) -> None:
        engines.revoke({tp.partition for tp in revoked if tp.topic == t.rekeyed.get_topic_name()})

    async def on_stop(timeout_s: float) -> None:
        save = functools.partial(checkpoint_quiet_partition, engines)
        saved = await checkpoint_on_stop(engines, steps, timeout_s, save)
        if saved is None:
            log.warning("stop: a record was still being applied; nothing checkpointed")
        else:
            log.info("stop: saved and acknowledged %d applied records of %d partitions", *saved)

    getattr(app, "stop_hooks", []).append(on_stop)


def _register_clue_sink(app: faust.App, settings: Settings, t: Topics) -> None:
    """risk.warnings -> the Redis clue queue, in batches; shadow warnings never become clues.

    One write at a time (:class:`streams.linger.GroupCommit`): the warnings of a fetch are
    written as soon as the sink has taken them all, those that come in during a write go
    out together right after it, up to ``SINK_BATCH``; each write (one round trip, retried
    until Redis has it) is acknowledged only after it. With ``SINK_BATCH`` waiting no more
    is read, so while Redis is slow the stream's buffer fills and Faust pauses the
    partition: the backlog stays in Kafka.
    A stop never cuts a write short (:func:`streams.steps.finish_before_cancel`).
    """

    emit = Emitter(t)

    @app.agent(t.warnings, name="clue-sink")
    async def clue_sink(stream: faust.StreamT) -> None:
        store = ClueStore(aioredis.from_url(settings.redis_url))

        async def write(batch: list[faust.EventT]) -> None:
            warnings = [w for w in [await _warning_or_deadletter(emit, e) for e in batch] if w]
            live = [w for w in warnings if not w.details.get("shadow")]  # shadow: never a clue
            if live:  # written before it is acknowledged, even on a stop
                record_upserts(await finish_before_cancel(_retry(store.upsert_warnings, live)))
            for event in batch:
                event.ack()

        events = stream.noack()  # type: ignore[attr-defined]
        queue = linger.stream_queue(events)
        sink = linger.GroupCommit(write, SINK_BATCH, lambda: linger.drained(queue, app.consumer))
        hooks = getattr(app.consumer, "after_batch", None)
        if hooks is not None:  # a fetched batch handed over: write once it is all taken
            hooks.append(lambda: sink.kick() if linger.drained(queue, None) else None)
        async for event in events.events():
            await sink.add(event)


async def _warning_or_deadletter(emit: Emitter, event: faust.EventT) -> RiskWarning | None:
    """A record of ``risk.warnings`` as a warning; one that is not (a producer other than the
    worker wrote it) is dead-lettered with the reason instead of stopping the sink."""
    try:
        return check_warning(RiskWarning.from_json(event.value))
    except (KeyError, TypeError, ValueError) as exc:
        await emit.deadletter(event, f"not a risk warning: {type(exc).__name__}: {exc}")
        return None


def _register_feedback(
    app: faust.App, settings: Settings, t: Topics, feedback_table: Any, engines: PartitionEngines
) -> None:
    """clue.dispositions -> per-rule precision (gauge and ``/feedback/``) and verdicts."""

    emit = Emitter(t, worker_masker(settings))  # opens the rules' key of a verdict

    @app.agent(t.dispositions, name="feedback")
    async def feedback(stream: faust.StreamT) -> None:
        async for value in stream:
            d = _record_disposition(feedback_table, value)
            if d is not None and learns_from_verdicts(engines.ruleset, d.rule_id):
                await forward_verdict(emit, engines.plan, settings.partitions, d)

    @app.timer(interval=5.0)
    async def refresh_precision() -> None:
        for rule, c in precision(feedback_table.values()).items():
            if c["precision"] is not None:
                m.PRECISION.labels(rule).set(c["precision"])

    @app.page("/feedback/")
    async def feedback_page(view: faust.web.View, request: faust.web.Request) -> Any:
        return view.json(precision(feedback_table.values()))


def _register_rule_stats(
    app: faust.App, engines: PartitionEngines, rules: RuleWatcher | TopicRules
) -> None:
    """Every 5 s, the engines' per-rule counters summed over partitions into the gauge."""

    @app.timer(interval=5.0)
    async def refresh_rule_stats() -> None:
        totals = {(r.id, stat): 0 for r in rules.ruleset.rules for stat in RULE_STATS}
        for st in engines:
            for rule_id, counter in st.engine.stats.items():
                for stat, n in counter.items():
                    totals[(rule_id, stat)] = totals.get((rule_id, stat), 0) + n
        for (rule_id, stat), n in totals.items():
            m.RULE_STATS.labels(rule_id, stat).set(n)


def _follow_rules(
    app: faust.App,
    settings: Settings,
    ruleset: RuleSet,
    swap: Callable[[RuleSet], None],
    origin: Origin | None,
) -> RuleWatcher | TopicRules:
    """Hot reload: follow rules.sets (every worker the same set) or poll the rules folder."""
    if origin is not None:
        topic_rules = TopicRules(ruleset, origin.version)

        def on_record(record: RuleSetRecord) -> None:
            new = topic_rules.accept(record)
            if new is not None:
                swap(new)

        @app.task
        async def follow_rule_sets() -> None:
            await follow_forever(settings.bootstrap, origin.follow_from, on_record)

        return topic_rules

    watcher = RuleWatcher(settings.rules_dir, ruleset)

    @app.timer(interval=settings.reload_interval_s)
    async def reload_rules() -> None:
        new = watcher.poll()
        if new is not None:
            swap(new)

    return watcher


async def _retry(fn: Any, *args: Any) -> Any:
    """Redis may blip; warnings must not be dropped. Retry with backoff, forever, loudly.

    One call at a time, at most 5 s apart: nothing else is read meanwhile. Every Redis error
    is retried (a refused write, MISCONF, OOM, READONLY, BUSY, is no more final than a lost
    connection), since giving up would let the stream acknowledge warnings never written;
    a re-sent upsert is a no-op for what was already applied."""
    delay = 0.2
    while True:
        try:
            return await fn(*args)
        except (aioredis.RedisError, OSError) as exc:
            log.warning("clue store unavailable (%s); retrying in %.1fs", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


def _record_disposition(table: Any, value: bytes) -> Disposition | None:
    """Count a clue's verdict once per disposition id; the clue's other steps are skipped.
    Returns the verdict when it is new."""
    d = parse_clue_record(value)
    if not isinstance(d, Disposition):
        return None  # a ClueTransition (dispatch, claim, ...): not a verdict
    previous = table.get(d.clue_id)
    if previous is not None and previous["id"] == d.id:
        return None  # redelivered: already counted
    table[d.clue_id] = {"id": d.id, "rule": d.rule_id, "outcome": d.outcome}
    m.DISPOSITIONS.labels(d.rule_id, d.outcome).inc()
    return d


def learns_from_verdicts(ruleset: RuleSet, rule_id: str) -> bool:
    """Whether a rule's detector takes inspectors' verdicts (``anomaly`` rules)."""
    return any(r.id == rule_id and r.type == "anomaly" for r in ruleset.rules)


async def forward_verdict(emit: Emitter, plan: KeyPlan, partitions: int, d: Disposition) -> None:
    """To the partition of ``risk.verdicts`` whose shard holds the rule's state for the key
    (to every partition when the key alone does not tell).

    The clue's key is pseudonymised and its hash would name another partition: the rules' own
    key is opened from the seal of the clue's warning that the disposition carries. The
    verdict goes on with the clue's key and that seal, so the topic names nobody, and the
    shard opens the seal again to find the key's state (:meth:`Emitter.rule_key`)."""
    if plan.space_of(d.rule_id) is None:  # the rule is no longer running: nothing would learn
        return
    where = space_key(plan, d.rule_id, emit.rule_key(Verdict.of(d)))
    targets = range(partitions) if where is None else [plan.partition(where[1], partitions)]
    for p in targets:  # a shard with no warning waiting for the key ignores it
        await emit.t.verdicts.send(key=d.clue_id.encode(), value=verdict_record(d), partition=p)


def precision(records: Any) -> dict[str, dict[str, Any]]:
    """Per rule: confirmed, dismissed and precision from each clue's latest disposition.

    >>> precision([{"rule": "r", "outcome": "confirmed"}, {"rule": "r", "outcome": "dismissed"},
    ...            {"rule": "r", "outcome": "confirmed"}])
    {'r': {'confirmed': 2, 'dismissed': 1, 'precision': 0.667}}
    """
    out: dict[str, dict[str, Any]] = {}
    for rec in records:
        c = out.setdefault(rec["rule"], {"confirmed": 0, "dismissed": 0, "precision": None})
        c[rec["outcome"]] = c.get(rec["outcome"], 0) + 1
    for c in out.values():
        total = c["confirmed"] + c["dismissed"]
        c["precision"] = round(c["confirmed"] / total, 3) if total else None
    return out
