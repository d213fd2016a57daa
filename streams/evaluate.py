"""The evaluate agent: riskloop.rekeyed and risk.verdicts -> the shard of the partition.

Partition p of the repartition topic holds the keys that hash to p in every key space; its
:class:`~rules.engine.shard.Shard` applies each routed event in the key space it was routed
to (a duplicate is skipped and counted, one behind the watermark is dead-lettered as too
late), feeds routed warnings to the ``source: warnings`` rules, and moves its watermark with
the progress the sources report (:mod:`streams.shuffle`). Partition p of ``risk.verdicts``
carries the inspectors' verdicts on keys of partition p. Records are checkpointed and
acknowledged in batches (:mod:`streams.state`); warnings go to ``risk.warnings``.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import faust

from envelope.events import Event, InvalidEvent, RiskWarning
from rules.engine.admission import DUPLICATE, TOO_LATE, Admission
from streams import metrics as m
from streams.emit import Emitter
from streams.shuffle import WARNING, InvalidShuffle, Record, decode, routed_event
from streams.state import PartitionEngines, PartitionState
from streams.verdicts import InvalidVerdict, parse_verdict, record_kind

log = logging.getLogger("riskloop.worker")


async def evaluate_record(engines: PartitionEngines, emit: Emitter, event: faust.EventT) -> None:
    """One record of the evaluate agent's stream: a verdict or a shuffle record, by topic.
    Its offset is kept and saved with the state it changed, so a restart neither applies it
    twice nor skips it."""
    msg = event.message
    st = engines.parts.get(msg.partition) or await engines.get_async(msg.partition)
    if st is None:  # revoked while its seed was learned: the new owner gets the record
        return
    now = time.monotonic()
    if engines.already_applied(st, msg.topic, msg.offset):
        event.ack()
        return
    if record_kind(msg.topic) == "verdict":
        await _verdict(st, emit, event)
    else:
        try:
            record = decode(event.value)
        except InvalidShuffle as exc:
            await emit.deadletter(event, str(exc))
        else:
            if record.items:
                st.last_event = st.last_idle_tick = now
            await emit.warnings(await _apply(st, emit, event, record))
    st.offsets[msg.topic] = msg.offset
    st.pending.append(event)
    if engines.due(st, now):
        for done in await engines.save(st, now):  # once the changelog confirmed it
            done.ack()


async def _verdict(st: PartitionState, emit: Emitter, event: faust.EventT) -> None:
    """A verdict for a detector of this shard; it carries no event time, so it moves no
    watermark and does not count as activity. Malformed: dead-lettered."""
    try:
        verdict = parse_verdict(event.value)
    except InvalidVerdict as exc:
        await emit.deadletter(event, str(exc))
    else:
        st.engine.feedback(verdict.rule_id, emit.rule_key(verdict), verdict.outcome)


async def _apply(
    st: PartitionState, emit: Emitter, event: faust.EventT, record: Record
) -> list[RiskWarning]:
    """The record's items in order, then the progress of its sources (after the items they
    cover), then the sources gone quiet."""
    shard = st.engine
    now_ms = int(time.time() * 1000)
    out: list[RiskWarning] = []
    applied = 0
    for item in record.items:
        try:
            kind, space, source, body, counts, offset = item
            if kind == WARNING:
                out.extend(_derived(shard.apply_warning(space, RiskWarning.from_dict(body)), body))
                continue
            ev = routed_event(body)
        except (InvalidEvent, KeyError, TypeError, ValueError) as exc:
            await emit.deadletter(event, f"not a routed item: {type(exc).__name__}: {exc}")
            continue
        t0 = time.perf_counter()
        try:
            admission, warnings = shard.apply(space, source, ev, now_ms)
        except Exception as exc:  # the error policy: one bad event never stops the worker
            log.exception("rule engine failed on event %s routed to %s", ev.id, space)
            await emit.deadletter(event, f"rule engine error: {type(exc).__name__}: {exc}")
            continue
        out.extend(warnings)
        if counts:
            await _count(emit, event, admission, ev, f"{source}:{offset}")
            m.PROCESSING.observe(time.perf_counter() - t0)
        applied += 1
    if applied:
        m.SHUFFLE_ITEMS.labels("applied").inc(applied)
    for source, ts_ms in record.progress.items():
        out.extend(shard.progress(source, ts_ms))
    for source in record.idle:  # after its progress: a quiet source stops holding time back
        out.extend(shard.release(source))
    return out


async def _count(
    emit: Emitter, event: faust.EventT, admission: Admission, ev: Event, where: str
) -> None:
    """An event counts once, at its first item: taken in, skipped as a duplicate, or too late
    (dead-lettered with the reason and ``where`` it was read, ``topic:partition:offset``)."""
    topic = where.split(":")[0]
    if admission.ok:
        m.events_in(topic).inc()
    elif admission.kind == DUPLICATE:
        m.DUPLICATE_EVENTS.labels(topic).inc()
    elif admission.kind == TOO_LATE:
        m.LATE_EVENTS.labels(topic).inc()
        await emit.deadletter(event, admission.reason, ev.to_json(), where)


def _derived(warnings: list[RiskWarning], cause: dict[str, Any]) -> list[RiskWarning]:
    """Warnings raised by a warning: one level deeper than it (the router stops at
    ``MAX_DEPTH``)."""
    depth = int((cause.get("details") or {}).get("depth") or 0) + 1
    for w in warnings:
        w.details["depth"] = depth
    return warnings
