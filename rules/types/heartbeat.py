"""``absence`` in heartbeat mode: each known key must beat at least every ``every``
(plus ``grace``); a silent key fires once (stage ``silent``, at the instant it became
overdue). With ``resolve: {on: cleared}`` its next beat emits ``resolved``.

Keys become known by beating, or up front from ``keys`` (a list or ``$list:name``): those
are expected from the first watermark the engine sees. A key silent for ``forget_after``
is no longer expected.

Examples:
    >>> from rules import RuleSet
    >>> from rules.engine.engine import Engine
    >>> from rules.language.model import parse_rule
    >>> from envelope.build import EventMaker
    >>> make_event = EventMaker()
    >>> from envelope.time import iso
    >>> rule = parse_rule('''
    ... id: feed-silent
    ... title: a data-sharing feed stopped delivering
    ... type: absence
    ... group_by: [attrs.feed]
    ... heartbeat: {match: {type: feed.delivered}, every: 1h, grace: 10m}
    ... ''', "r.yaml")
    >>> eng = Engine(RuleSet([rule]), lateness_ms=0)
    >>> T0 = 1772414100000  # 2026-03-02 09:15 (UTC+8)
    >>> eng.process(make_event(ts_ms=T0, type="feed.delivered", feed="tax"))
    []
    >>> [(w.key, w.stage, iso(w.ts_ms)) for w in eng.advance_to(T0 + 3 * 3_600_000)]
    [('tax', 'silent', '2026-03-02T10:25:00+08:00')]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from envelope.events import Event
from rules.engine.timers import INF, Timers
from rules.language.fields import Block, Duration, Field, Flag
from rules.language.model import Rule
from rules.language.valuekinds import KeysKind, SelectionKind
from rules.matching.selection import Selection
from rules.types.common import Hit, RuleState, capture_function, key_function
from rules.types.open_hours import OpenHours, add_open_ms
from rules.types.registry import Variant


@dataclass(frozen=True, slots=True)
class HeartbeatSpec:
    match: Selection
    every_ms: int
    grace_ms: int
    keys: tuple[str, ...]
    forget_ms: int
    open_hours: tuple[int, int] | None = None
    workdays_only: bool = False


# the ``heartbeat`` key of an absence rule (:mod:`rules.types.absence`), parsed to the spec
HEARTBEAT = Block(
    "heartbeat",
    (
        Field(
            "match",
            SelectionKind(),
            required=True,
            doc="the beats: events that show the feed is alive",
        ),
        Field(
            "every", Duration(), required=True, doc="a beat is expected at least this often per key"
        ),
        Field("grace", Duration(), doc="extra time before the silence counts"),
        Field("keys", KeysKind(), doc="keys expected from the start (a list or $list:name)"),
        Field(
            "forget_after", Duration(), default="30d", doc="stop expecting a key silent this long"
        ),
        Field(
            "open",
            OpenHours(),
            doc="local hours the feed delivers, '08:00-20:00': every and grace count only then",
        ),
        Field(
            "workdays_only",
            Flag(),
            default=False,
            doc="every and grace count only on China's working days",
        ),
    ),
    lambda v, r: HeartbeatSpec(
        v["match"],
        v["every"],
        v["grace"] or 0,
        v["keys"] or (),
        v["forget_after"],
        v["open"] or ((0, 1440) if v["workdays_only"] else None),
        v["workdays_only"],
    ),
)

START = "\x00start"
_FIRST = -(2**62)


@dataclass(slots=True)
class Beat:
    last_ms: int
    ctx: dict[str, Any]
    silent_since: int | None = None
    due: int = INF


class HeartbeatEvaluator:
    def __init__(self, rule: Rule, timers: Timers) -> None:
        spec = rule.spec
        assert isinstance(spec, HeartbeatSpec)
        self.rule, self.spec, self.timers = rule, spec, timers
        self.key_of = key_function(rule)
        self.capture = capture_function(rule)
        self.late_ms = spec.every_ms + spec.grace_ms
        # the listed keys this engine expects: all of them, or on a shard of a partitioned
        # key space the ones that hash to it (the others' beats go to other shards)
        self.listed: tuple[str, ...] = spec.keys
        if spec.keys:
            timers.push(_FIRST, START)

    def own_listed(self, owns: Callable[[str], bool]) -> None:
        """Expect only the listed keys ``owns`` says live here."""
        self.listed = tuple(k for k in self.spec.keys if owns(k))

    def selections(self) -> list[Selection]:
        return [self.spec.match]

    def on_event(self, ev: Event, st: RuleState) -> list[Hit] | None:
        if not self.spec.match.fast(ev):
            return None
        key = self.key_of(ev)
        if key is None:
            return None
        beat = st.keys.get(key)
        hits = None
        if beat is None:
            beat = Beat(ev.ts_ms, self.capture(ev))
        elif ev.ts_ms > beat.last_ms:
            if beat.silent_since is None and beat.due < ev.ts_ms:
                # silent before this beat: the watermark (held back by lateness) is not there yet
                beat.silent_since = beat.due
                hits = [self._silent(key, beat, beat.due)]
            if beat.silent_since is not None:
                if self.rule.resolve is not None:
                    hits = (hits or []) + [
                        Hit(
                            key,
                            ev.ts_ms,
                            "resolved",
                            beat.silent_since,
                            self.capture(ev),
                            (ev.ts_ms - beat.last_ms) / 1000.0,
                            evidence=(ev.id,),
                        )
                    ]
                beat.silent_since = None
            beat.last_ms = ev.ts_ms
            beat.ctx = self.capture(ev)
        else:
            return None
        self._schedule(key, beat, self._due(beat.last_ms))
        st.put(key, beat)
        return hits

    def _due(self, since_ms: int) -> int:
        """When a key that beat at ``since_ms`` is overdue: every + grace, in open time."""
        spec = self.spec
        if spec.open_hours is None:
            return since_ms + self.late_ms
        return add_open_ms(since_ms, self.late_ms, spec.open_hours, spec.workdays_only)

    @staticmethod
    def _silent(key: str, beat: Beat, due: int) -> Hit:
        """The key went silent at ``due`` (its last beat, plus every and grace)."""
        return Hit(
            key, due, "silent", due, beat.ctx, (due - beat.last_ms) / 1000.0, (beat.last_ms, due)
        )

    def _schedule(self, key: str, beat: Beat, due: int) -> None:
        beat.due = due
        self.timers.push(due, key)

    def on_watermark(self, wm_ms: int, st: RuleState) -> list[Hit] | None:
        hits: list[Hit] = []
        while (item := self.timers.pop_one(wm_ms)) is not None:
            due, key = item
            if key == START:
                self._start(wm_ms, st)
                continue
            beat = st.keys.get(key)
            if beat is None or beat.due != due:
                continue
            if beat.silent_since is None:
                beat.silent_since = due
                hits.append(self._silent(key, beat, due))
                self._schedule(key, beat, beat.last_ms + self.spec.forget_ms)
                st.put(key, beat)
            else:
                st.drop(key)
        return hits

    def _start(self, wm_ms: int, st: RuleState) -> None:
        """Listed keys are expected from the first watermark on."""
        if "started" in st.meta:
            return
        st.set_meta("started", wm_ms)
        for key in self.listed:
            if key not in st.keys:
                beat = Beat(wm_ms, {})
                self._schedule(key, beat, self._due(wm_ms))
                st.put(key, beat)

    def rebuild(self, st: RuleState) -> None:
        entries = [(b.due, k) for k, b in st.keys.items() if b.due < INF]
        if self.spec.keys and "started" not in st.meta:
            entries.append((_FIRST, START))
        self.timers.reset(entries)

    def describe(self, key: str, st: RuleState) -> dict[str, Any]:
        beat = st.keys.get(key)
        if beat is None:
            return {"key": key, "known": False}
        return {
            "key": key,
            "known": True,
            "last_beat_ms": beat.last_ms,
            "silent": beat.silent_since is not None,
            "due_ms": beat.due,
        }


VARIANT = Variant(HeartbeatSpec, HeartbeatEvaluator, "cleared")
