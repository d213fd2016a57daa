"""The ingest agent: event topics (any producer keys) -> validate -> route -> riskloop.rekeyed.

Reads ``events.service`` and ``events.regulatory`` as the producers wrote them, and
``risk.warnings`` for the ``source: warnings`` key spaces. A record is one event, or a JSON
array of events (a batched producer, ``riskloop replay --batch``); each event is validated on
its own and a bad one is dead-lettered with its reason, as is one dated too far in the future
or older than the retention (``rules.engine.admission``): it moves no watermark. Valid events
are routed by :class:`streams.shuffle.Router` and sent in batches; the records read are
acknowledged only once every batch carrying their events is durably sent, so a crash loses
nothing (a re-sent event is skipped by its id downstream, and warnings have stable ids).

A flush is due when a destination holds a full batch, and as soon as everything fetched has
been routed (:mod:`streams.linger`): a lone event goes on at once, a burst in batches as
large as it comes. A timer flushes every ``LINGER_S`` as well, so each source's progress
reaches the destinations while nothing is read, and tells them which of this worker's sources
went quiet (caught up with the broker and silent for ``RISKLOOP_IDLE_AFTER_S``), so their
deadlines still fire.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import faust
import orjson
from faust.types import TP

from envelope.events import Event, InvalidEvent, RiskWarning
from envelope.settings import Settings
from envelope.topics import EVENT_TOPICS, TOPIC_WARNINGS
from rules.engine.admission import NO_WATERMARK, Bounds, classify
from rules.engine.keyspace import KeyPlan
from streams import metrics as m
from streams.emit import Emitter, worker_masker
from streams.linger import drained, stream_queue
from streams.shuffle import Router, encode
from streams.steps import InFlight
from streams.topics import Topics

log = logging.getLogger("riskloop.worker")
LINGER_S = 0.05


class Ingest:
    """The router of one worker, what it has read but not yet acknowledged, and the flush."""

    def __init__(self, app: faust.App, settings: Settings, t: Topics, plan: KeyPlan) -> None:
        self.app, self.t, self.settings = app, t, settings
        self.router = Router(plan, settings.partitions)
        self.bounds = Bounds.from_settings(settings)
        self.emit = Emitter(t)
        self.masker = worker_masker(settings)
        self.unacked: list[Any] = []
        self.last_read: dict[str, float] = {}
        self.lock = asyncio.Lock()
        self.steps = InFlight()
        self.read_offsets: dict[TP, int] = {}
        # end offsets asked of the broker for sources never fetched from (no highwater yet)
        self.end_offsets: dict[TP, int] = {}
        self._asked_at = -1e18
        self._flushing: asyncio.Future[None] | None = None
        self._again = False
        self.queue: Any = None  # the ingest stream's buffer

    def on_batch(self) -> None:
        """The consumer has handed over a fetched batch: sent on once it is all routed."""
        if drained(self.queue, None):
            self.flush_soon()

    def swap(self, plan: KeyPlan) -> None:
        """A new rule set: route by its key spaces from the next event on."""
        self.router.plan = plan

    async def take(self, event: faust.EventT) -> None:
        msg = event.message
        source = f"{msg.topic}:{msg.partition}"
        self.last_read[source] = time.monotonic()
        if msg.topic == TOPIC_WARNINGS:
            self._take_warning(event.value)
        else:
            for value in _values(event.value):
                await self._take_value(event, source, value)
        self.unacked.append(event)
        if self.router.full():
            await self.flush()

    def _take_warning(self, value: bytes | None) -> None:
        try:
            w = RiskWarning.from_json(value or b"")
        except (KeyError, TypeError, ValueError):
            return  # the clue sink dead-letters it
        self.router.take_warning(self.masker.unmask_warning(w))

    async def _take_value(self, event: faust.EventT, source: str, value: Any) -> None:
        topic = event.message.topic
        try:
            ev = Event.from_json(value) if isinstance(value, bytes) else Event.from_dict(value)
        except InvalidEvent as exc:
            await self.emit.deadletter(event, str(exc), _raw(value))
            return
        if EVENT_TOPICS[ev.stream] != topic:  # a producer routed it wrong
            reason = f"wrong topic: a {ev.stream} event belongs on {EVENT_TOPICS[ev.stream]}"
            await self.emit.deadletter(event, reason, _raw(value))
            return
        now_ms = int(time.time() * 1000)
        admission = classify(ev.ts_ms, now_ms, NO_WATERMARK, self.bounds, lateness_ms=0)
        if not admission.ok:
            await self.emit.deadletter(event, admission.reason, _raw(value))
            return
        if not self.router.take_event(source, ev, event.message.offset):
            m.events_in(topic).inc()  # no rule can use it: taken in, nothing to apply

    def flush_soon(self) -> None:
        """Flush in the background, so reading goes on while the broker acknowledges; while
        one runs, what is routed meanwhile waits for it and is flushed right after it (one
        record per destination however many events came in the while)."""
        if self._flushing is not None and not self._flushing.done():
            self._again = True
            return
        self._again = True
        self._flushing = asyncio.ensure_future(self._flush_while_asked())

    async def _flush_while_asked(self) -> None:
        with self.steps:
            while self._again:
                self._again = False
                try:
                    await self.flush()
                except Exception:  # its events stay unacknowledged: read again after a restart
                    log.exception("ingest: a flush failed")
                    return

    async def flush(self, now: float | None = None) -> None:
        """Send what is due, wait until the broker has it, then acknowledge what was read."""
        async with self.lock:
            await self._ask_end_offsets()
            self._mark_quiet()
            self.end_offsets.clear()  # stale once used: a producer may write the next moment
            records = self.router.flush(time.monotonic() if now is None else now)
            done, self.unacked = self.unacked, []
            futures = [
                await self.t.rekeyed.send(value=encode(record), partition=p)
                for p, record in records
            ]
            for n in (len(r.items) for _, r in records):
                m.SHUFFLE_ITEMS.labels("sent").inc(n)
            await asyncio.gather(*futures)
            for event in done:
                event.ack()

    def _mark_quiet(self) -> None:
        """Release the sources that are caught up and silent for the idle time, once some
        source of this worker has delivered: a worker started before its producers releases
        nothing, or the first partition fetched once they start would run ahead of the rest
        and make their first events late."""
        if not self.router.progress:
            return
        now = time.monotonic()
        quiet = []
        for tp in self._owned():
            source = f"{tp.topic}:{tp.partition}"
            # silent since it was last read, or since this worker first owned it: a source
            # taken over is not quiet before the idle time has passed here too
            idle_s = now - self.last_read.setdefault(source, now)
            if idle_s >= self.settings.idle_after_s and self._caught_up(tp):
                quiet.append(source)
        self.router.mark_idle(quiet)

    async def _ask_end_offsets(self) -> None:
        """Ask the broker where the idle sources whose highwater the consumer does not know
        end, at most once per idle time. A partition never fetched from (an event topic no
        producer has written to yet) has no highwater, and a source never known to be
        caught up would hold every shard's event time back: no warning would ever fire."""
        now = time.monotonic()
        if now - self._asked_at < self.settings.idle_after_s:
            return
        unknown = [tp for tp in self._owned() if self._highwater(tp) is None and self._idle(tp)]
        if not unknown:
            return
        self._asked_at = now
        try:
            self.end_offsets.update(await self.app.consumer.highwaters(*unknown))
        except Exception as exc:  # the broker will be asked again after the idle time
            log.info("end offsets of %d idle partitions not known yet: %s", len(unknown), exc)

    def _idle(self, tp: TP) -> bool:
        since = self.last_read.get(f"{tp.topic}:{tp.partition}")
        return since is not None and time.monotonic() - since >= self.settings.idle_after_s

    def _highwater(self, tp: TP) -> int | None:
        try:
            return self.app.consumer.highwater(tp)
        except Exception:  # not known yet
            return None

    def _owned(self) -> list[TP]:
        try:
            assigned = self.app.consumer.assignment()
        except Exception:  # not started yet
            return []
        return [tp for tp in assigned if tp.topic in EVENT_TOPICS.values()]

    def _caught_up(self, tp: TP) -> bool:
        """Everything the broker holds of ``tp`` has been read: by this worker, or before it
        by the group. A worker that takes over a partition its predecessor read to the end
        reads nothing there; the offset the group committed (where this worker started,
        faust's ``_committed_offset``: the next offset to read) says it is caught up, or
        that source would hold every shard's watermark back for good."""
        highwater = self._highwater(tp)
        if highwater is None:  # never fetched from: what the broker said it holds
            highwater = self.end_offsets.get(tp)
        try:
            committed = getattr(self.app.consumer, "_committed_offset", {}).get(tp)
        except Exception:  # not known yet: assume more is coming, the safe side
            return False
        read = max(self.read_offsets.get(tp, -1) + 1, committed or 0)
        return highwater is not None and read >= highwater


def _values(value: bytes | None) -> list[Any]:
    """The events of one record: itself, or the elements of a JSON array (a batch)."""
    raw = value or b""
    if raw[:1] != b"[":
        return [raw]
    try:
        items = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return [raw]  # dead-lettered as the bad event it is
    return [i if isinstance(i, dict) else orjson.dumps(i) for i in items]


def _raw(value: Any) -> bytes:
    return value if isinstance(value, bytes) else orjson.dumps(value)


def register_ingest(
    app: faust.App, settings: Settings, t: Topics, plan: KeyPlan
) -> Callable[[KeyPlan], None]:
    """The ingest agent and its flush timer; returns what a rule-set change calls."""
    ingest = Ingest(app, settings, t, plan)

    @app.agent(t.ingested, name="ingest")
    async def ingest_agent(stream: faust.StreamT) -> None:
        events = stream.noack()  # type: ignore[attr-defined]
        ingest.queue = stream_queue(events)
        hooks = getattr(app.consumer, "after_batch", None)
        if hooks is not None and ingest.on_batch not in hooks:
            hooks.append(ingest.on_batch)
        async for event in events.events():
            msg = event.message
            ingest.read_offsets[TP(msg.topic, msg.partition)] = msg.offset
            with ingest.steps:
                await ingest.take(event)
            if drained(ingest.queue, app.consumer):  # all that was fetched is routed
                ingest.flush_soon()

    @app.timer(interval=LINGER_S)
    async def linger() -> None:
        with ingest.steps:
            await ingest.flush()

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def on_revoked(app: faust.App, revoked: set[Any], **kwargs: Any) -> None:
        sources = [f"{tp.topic}:{tp.partition}" for tp in revoked]
        ingest.router.forget(sources)
        for source in sources:
            ingest.last_read.pop(source, None)

    async def on_stop(timeout_s: float) -> None:
        if await ingest.steps.idle(timeout_s):
            await ingest.flush()

    getattr(app, "stop_hooks", []).append(on_stop)
    return ingest.swap
