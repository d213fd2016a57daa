"""The idle policy: how a partition's event time moves on when its events stop coming.

A topic that has delivered everything the broker holds and then nothing for
``RISKLOOP_IDLE_AFTER_S`` stops holding the partition's watermark back; a partition idle that
long follows wall time, so deadlines still fire on a quiet stream. Once a second each
partition's watermark lag and detector scores are published as metrics.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Callable

from envelope.events import RiskWarning
from streams import metrics as m
from streams.emit import Emitter
from streams.state import PartitionEngines, PartitionState

log = logging.getLogger("riskloop.worker")


def observe(st: PartitionState) -> None:
    """Once a second, not per event: watermark lag and each detector's latest score."""
    if st.engine.max_ts_ms is not None:
        lag_s = (st.engine.max_ts_ms - st.engine.watermark_ms) / 1000
        m.WATERMARK_LAG.labels(str(st.partition)).set(lag_s)
        m.WATERMARK.labels(str(st.partition)).set(st.engine.watermark_ms / 1000)
    for rule, model in st.engine.models():
        m.DETECTOR_SCORE.labels(rule.id).observe(model.last_score)
        if model.threshold.value is not None:
            m.DETECTOR_THRESHOLD.labels(rule.id).set(model.threshold.value)


CaughtUp = Callable[[str, int, "int | None"], bool]


async def advance_idle(
    engines: PartitionEngines, emit: Emitter, idle_after_s: float, caught_up: CaughtUp
) -> None:
    now = time.monotonic()
    for st in engines:
        observe(st)
        if st.pending and engines.due(st, now):
            checkpoint_quiet_partition(engines, st, now)
        if engines.seeding:  # events of every partition wait behind the seed: not idle
            st.last_event = st.last_idle_tick = now
            continue
        await emit.warnings(release_quiet_topics(st, now, idle_after_s, caught_up))
        if now - st.last_event < idle_after_s or st.clock.holding():
            continue
        elapsed_ms = int((now - st.last_idle_tick) * 1000)
        st.last_idle_tick = now
        await emit.warnings(st.engine.advance_idle(elapsed_ms))


def release_quiet_topics(
    st: PartitionState, now: float, idle_after_s: float, caught_up: CaughtUp
) -> list[RiskWarning]:
    """A topic that has delivered everything it holds and then nothing for ``idle_after_s``
    stops holding the partition's watermark back; what the others reached may now fire."""
    released = False
    for topic in st.clock.holding():
        quiet_s = now - st.last_seen.get(topic, st.last_checkpoint)
        if quiet_s >= idle_after_s and caught_up(topic, st.partition, st.offsets.get(topic)):
            released = st.clock.release(topic) or released
    reached = st.clock.reached()
    if not released or reached is None:
        return []
    return st.engine.advance_to(reached - st.engine.lateness_ms)


def checkpoint_quiet_partition(engines: PartitionEngines, st: PartitionState, now: float) -> None:
    """Save and acknowledge the tail of a stream that went quiet.

    Faust writes a table key to the changelog partition of the *current* event, which only
    exists inside stream iteration; here we make the partition's newest pending event current
    for the duration of the checkpoint (Faust's own context variable), so the tail of a
    stream is acknowledged without waiting for another event and a shutdown commits it.
    """
    from faust.streams import _current_event

    token = _current_event.set(weakref.ref(st.pending[-1]))
    try:
        for done in engines.checkpoint(st, now):
            done.ack()
    finally:
        _current_event.reset(token)
