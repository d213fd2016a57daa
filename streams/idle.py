"""The idle policy: how a partition's event time moves on when its events stop coming.

A source that has delivered everything the broker holds and then nothing for
``RISKLOOP_IDLE_AFTER_S`` stops holding the shards' watermarks back (the ingest agent tells
them); a shard idle that long, with every source quiet, follows wall time, so deadlines still
fire on a quiet stream. Once a second each
partition's watermark lag and detector scores are published as metrics.
"""

from __future__ import annotations

import logging
import time

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


async def advance_idle(engines: PartitionEngines, emit: Emitter, idle_after_s: float) -> None:
    """Once a second: metrics, the checkpoint of a quiet partition, and event time following
    wall time on a shard that got no events for ``idle_after_s`` and whose sources have all
    gone quiet (the ingest agent says which, :mod:`streams.shuffle`)."""
    now = time.monotonic()
    for st in engines:
        observe(st)
        if st.pending and engines.due(st, now):
            await checkpoint_quiet_partition(engines, st, now)
        if engines.seeding:  # events of every partition wait behind the seed: not idle
            st.last_event = st.last_idle_tick = now
            continue
        if now - st.last_event < idle_after_s or st.engine.clock.holding():
            continue
        elapsed_ms = int((now - st.last_idle_tick) * 1000)
        st.last_idle_tick = now
        await emit.warnings(st.engine.advance_idle(elapsed_ms))


async def checkpoint_quiet_partition(
    engines: PartitionEngines, st: PartitionState, now: float
) -> int:
    """Save and acknowledge the tail of a stream that went quiet, without waiting for
    another event, so a shutdown commits it; returns how many records were acknowledged
    (none when the changelog refused the checkpoint)."""
    done = await engines.save(st, now)
    for event in done:
        event.ack()
    return len(done)
