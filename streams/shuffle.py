"""The shuffle: routed events in batches on the repartition topic, with each source's progress.

The ingest agent reads the event topics with whatever keys the producers used and routes each
valid event to the partition of ``riskloop.rekeyed`` its key hashes to, once per key space
that can use it (:class:`rules.engine.keyspace.KeyPlan`); warnings read back from
``risk.warnings`` go the same way to the ``source: warnings`` key spaces. Faust's cost is per
message, so one record carries a batch: every item routed to one destination partition since
the last flush, bounded by count and bytes and a short linger, in the order each source
delivered them.

Each record also carries the *progress* of every source the sending worker owns (a source is
one partition of one input topic, ``events.service:3``): the newest event time it has read
there. A destination shard's watermark is the least progress over all sources
(:mod:`rules.engine.shard`), so a record with no items is sent to a destination that got
nothing for a while (progress-only), and a source that has delivered everything it holds and
then nothing for the idle time is listed as ``idle``: it stops holding the watermark back.

A record is JSON: ``{"progress": {source: ms}, "idle": [source], "items": [[kind, space,
source, body, counts, offset]]}`` where kind is ``e`` (body: the event's validated fields in
the order of :class:`~envelope.events.Event`, rebuilt without parsing it again; an envelope
object is read too) or ``w`` (a warning),
``counts`` is 1 on the one item of an event that counts it in the metrics, and ``offset`` is
where the event was read in its source (for a dead letter that names it).

Pure: no broker; the ingest agent sends what :meth:`Router.flush` returns.

Examples:
    >>> from rules import RuleSet
    >>> from rules.language.model import parse_rule
    >>> from envelope.build import EventMaker
    >>> rule = parse_rule("id: reads\\ntitle: t\\ntype: threshold\\nmatch: {type: data.access}\\n"
    ...     "group_by: [attrs.account]\\nwindow: 1h\\ncondition: {gte: 2}\\n", "r.yaml")
    >>> router = Router(KeyPlan(RuleSet([rule])), partitions=4)
    >>> ev = EventMaker()(ts_ms=1772414100000, type="data.access", account="stf-9")
    >>> router.take_event("events.service:0", ev)
    1
    >>> [(p, len(rec.items)) for p, rec in router.flush(now=0.0)]  # one item, progress to all
    [(0, 0), (1, 0), (2, 0), (3, 1)]
    >>> decode(encode(router.flush(now=9.0)[0][1])).progress
    {'events.service:0': 1772414100000}
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from operator import attrgetter
from typing import Any

import orjson

from envelope.events import Event, RiskWarning
from rules.engine.engine import MAX_DEPTH, warning_event
from rules.engine.keyspace import WHOLE, KeyPlan

EVENT, WARNING = "e", "w"
BATCH_ITEMS = 2_000  # items per destination before a flush is due
BATCH_BYTES = 512 * 1024  # about this many bytes of items per destination
PROGRESS_EVERY_S = 0.2  # a destination that got nothing hears each source's progress this often
KEEPALIVE_S = 2.0  # ... and at least this often when nothing moved


class InvalidShuffle(ValueError):
    """A record on the repartition topic that the worker did not write."""


@dataclass
class Record:
    progress: dict[str, int] = field(default_factory=dict)
    idle: list[str] = field(default_factory=list)
    items: list[list[Any]] = field(default_factory=list)


def encode(record: Record) -> bytes:
    return orjson.dumps({"progress": record.progress, "idle": record.idle, "items": record.items})


def decode(raw: bytes | None) -> Record:
    """A record of the repartition topic, or InvalidShuffle saying what is wrong with it."""
    try:
        doc = orjson.loads(raw or b"")
    except orjson.JSONDecodeError as exc:
        raise InvalidShuffle(f"not a shuffle record: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        raise InvalidShuffle("not a shuffle record: a JSON object with 'items' is expected")
    progress, idle = doc.get("progress") or {}, doc.get("idle") or []
    if not isinstance(progress, dict) or not all(isinstance(v, int) for v in progress.values()):
        raise InvalidShuffle("not a shuffle record: 'progress' maps sources to epoch ms")
    return Record(progress, [str(s) for s in idle], doc["items"])


_FIELDS = tuple(f.name for f in fields(Event))
_TS_MS, _ATTRS = _FIELDS.index("ts_ms"), _FIELDS.index("attrs")
_TEXTS = tuple(i for i in range(len(_FIELDS)) if i not in (_TS_MS, _ATTRS))
event_fields = attrgetter(*_FIELDS)  # an Event -> the body of its routed items


def routed_event(body: Any) -> Event:
    """The event of a routed item: its fields as :func:`event_fields` gave them, or an
    envelope object (validated as one); InvalidShuffle or InvalidEvent when it is neither.

    >>> from envelope.build import EventMaker
    >>> ev = EventMaker()(ts_ms=1772414100000, type="data.access", account="stf-9")
    >>> raw = encode(Record(items=[[EVENT, "space", "source", event_fields(ev), 1, 0]]))
    >>> routed_event(decode(raw).items[0][3]) == ev
    True
    """
    if isinstance(body, dict):
        return Event.from_dict(body)
    if (
        not isinstance(body, list | tuple)
        or len(body) != len(_FIELDS)
        or type(body[_TS_MS]) is not int
        or not isinstance(body[_ATTRS], dict)
        or not all(isinstance(body[i], str) for i in _TEXTS)
    ):
        raise InvalidShuffle(f"not a routed event: {len(_FIELDS)} typed fields are expected")
    return Event(*body)


def space_key(plan: KeyPlan, rule_id: str, key: str) -> tuple[str, str] | None:
    """Where a rule's state for ``key`` lives: its key space and the key there (a verdict
    goes to that partition only); None when that is not known from the key alone (a rule
    with a model per ``model_by`` value: the verdict goes to every partition)."""
    ks = plan.space_of(rule_id)
    if ks is None:
        return None
    shared = ks.name.partition(":")[2]
    if shared == WHOLE:
        return ks.name, WHOLE
    return None if shared.startswith(WHOLE) else (ks.name, key)


class Router:
    """Batches per destination partition, and the progress of the sources read."""

    def __init__(self, plan: KeyPlan, partitions: int) -> None:
        self.plan = plan
        self.partitions = partitions
        self.items: dict[int, list[list[Any]]] = {}
        self.sizes: dict[int, int] = {}
        self.progress: dict[str, int] = {}
        self.idle: set[str] = set()
        self.sent_progress: dict[int, tuple[dict[str, int], list[str]]] = {}
        self.sent_at: dict[int, float] = {}
        # destination -> the newest event time sent there that this router's sources have
        # not all passed yet: the shard holds that event until they have, so it hears the
        # sources' progress at the next flush, not after PROGRESS_EVERY_S
        self.owed: dict[int, int] = {}

    def take_event(self, source: str, ev: Event, offset: int = -1) -> int:
        """Route one valid event read from ``source`` at ``offset``; returns how many items it
        made."""
        if ev.ts_ms > self.progress.get(source, ev.ts_ms - 1):
            self.progress[source] = ev.ts_ms
        self.idle.discard(source)
        body = None
        n = 0
        for ks, key in self.plan.route(ev):
            body = body or event_fields(ev)
            item = [EVENT, ks.name, source, body, 0 if n else 1, offset]  # the first counts it
            p = self.plan.partition(key, self.partitions)
            self._add(p, item)
            self.owed[p] = max(self.owed.get(p, ev.ts_ms), ev.ts_ms)
            n += 1
        return n

    def take_warning(self, w: RiskWarning) -> int:
        """Route a warning of ``risk.warnings`` to the ``source: warnings`` key spaces; a
        resolution, or a warning already derived ``MAX_DEPTH`` times, goes nowhere."""
        if w.stage == "resolved" or int(w.details.get("depth") or 0) >= MAX_DEPTH:
            return 0
        if not self.plan.takes_warnings:
            return 0
        body = None
        n = 0
        for ks, key in self.plan.route_warning(warning_event(w)):
            body = body or w.to_dict()
            self._add(
                self.plan.partition(key, self.partitions), [WARNING, ks.name, "", body, 0, -1]
            )
            n += 1
        return n

    def _add(self, p: int, item: list[Any]) -> None:
        self.items.setdefault(p, []).append(item)
        self.sizes[p] = self.sizes.get(p, 0) + 1

    def full(self) -> bool:
        """A destination holds enough for a record of its own."""
        return any(n >= BATCH_ITEMS for n in self.sizes.values())

    def mark_idle(self, sources: Iterable[str]) -> None:
        """These sources delivered everything they hold and then nothing for a while."""
        self.idle |= set(sources)

    def forget(self, sources: Iterable[str]) -> None:
        """Sources revoked from this worker: their new owner reports them."""
        for s in sources:
            self.progress.pop(s, None)
            self.idle.discard(s)

    def flush(self, now: float) -> list[tuple[int, Record]]:
        """The records to send now: every destination with items, progress-only ones to
        those holding events of this router that the sources' progress has moved past (or
        stopped holding back: a source gone quiet), and to the others when they have not
        heard it for ``PROGRESS_EVERY_S`` (or, when nothing moved, ``KEEPALIVE_S``)."""
        out: list[tuple[int, Record]] = []
        state = (dict(self.progress), sorted(self.idle))
        reached = self._reached()
        for p in range(self.partitions):
            items = self.items.pop(p, None)
            if not items and not self._progress_due(p, state, now):
                continue
            out.append((p, Record(state[0], state[1], items or [])))
            self.sent_progress[p] = state
            self.sent_at[p] = now
            if reached is not None and reached > self.owed.get(p, reached):
                del self.owed[p]  # every event sent there is passed: the shard applies them
        self.sizes.clear()
        return out

    def _progress_due(self, p: int, state: tuple[dict[str, int], list[str]], now: float) -> bool:
        if not state[0] and not state[1]:
            return False
        moved = self.sent_progress.get(p) != state
        if moved and p in self.owed:
            return True
        last = self.sent_at.get(p)
        return last is None or now - last >= (PROGRESS_EVERY_S if moved else KEEPALIVE_S)

    def _reached(self) -> int | None:
        """The time every source of this router that still counts has passed (the newest
        of all when all went quiet), as a shard's clock takes it."""
        times = [t for s, t in self.progress.items() if s not in self.idle]
        if times:
            return min(times)
        return max(self.progress.values()) if self.progress else None
