"""``spike``: the count in the current window against a reference, per key.

Counts are kept in ``step``-sized buckets (aligned to midnight UTC+8). The current window
is the ``window / step`` buckets ending with the one that holds time ``t``; the reference
is the same span ``period`` earlier, for ``count`` periods, combined by ``stat``
(``median`` by default): ``reference: {period: 7d, count: 4}`` is "the same weekday in
the last four weeks", no ``reference`` is "the previous window".

``direction: up`` fires when current >= ``ratio_gte`` x reference, ``down`` when
reference >= ``ratio_gte`` x current, ``both`` on either; always only with current >=
``current_gte`` and reference >= ``reference_gte`` (floors, so tiny numbers don't fire),
and only once the key has had events for the whole reference span (warm-up, per key: a key
seen for the first time, or again after a silence longer than the span, has no reference
yet; seed it with :meth:`rules.engine.engine.Engine.seed`). The value is the current count;
``reference`` and ``ratio`` go to the warning's details. Episodes as in :mod:`rules.types.windowed`.
``distinct: FIELD`` judges the distinct values of a field in each window instead of the
events (:mod:`rules.types.spike_distinct`).

Examples:
    >>> from rules import RuleSet
    >>> from rules.engine.engine import Engine
    >>> from rules.language.model import parse_rule
    >>> from envelope.build import EventMaker
    >>> make_event = EventMaker()
    >>> rule = parse_rule('''
    ... id: surge
    ... title: complaints surge
    ... type: spike
    ... match: {type: hotline.ticket}
    ... group_by: [region]
    ... window: 1h
    ... condition: {ratio_gte: 3, current_gte: 6, reference_gte: 1}
    ... ''', "r.yaml")
    >>> eng = Engine(RuleSet([rule]), lateness_ms=0)
    >>> T0 = 1772413200000  # 2026-03-02 09:00 (UTC+8)
    >>> out = [w for m in (-60, 0, 30, 60, 65, 70, 75, 80, 85)
    ...        for w in eng.process(make_event(ts_ms=T0 + m * 60_000, type="hotline.ticket"))]
    >>> [(w.key, w.value, w.details["reference"], w.details["ratio"]) for w in out]
    [('330106', 6.0, 1, 6.0)]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from envelope.events import Event
from envelope.time import CST_OFFSET_MS
from rules.engine.timers import INF, Timers
from rules.language.blocks import RANK
from rules.language.fields import Block, Choice, Duration, Field, Many, Number, Path, Reader, Text
from rules.language.model import Rule
from rules.matching.selection import Selection
from rules.types.aggregates import STATS, bucket_end, bucket_of, bucket_sum, slide_sums
from rules.types.common import WINDOW, CaptureRow, Hit, RuleState, key_function
from rules.types.registry import RuleType, Variant

MAX_SLIDE = 6  # slide cached sums over at most this many buckets, else sum afresh
MAX_BUCKETS = 20_000
ALWAYS = -(2**62)  # warm since ever (a key restored from a checkpoint that kept no start)


@dataclass(frozen=True, slots=True)
class SpikeSpec:
    """The window, the buckets, the reference periods and the condition of a spike rule.

    >>> SpikeSpec(3_600_000, 900_000, 604_800_000, 4, "median", "up", 3.0, 20, 5).history_ms
    2422800000
    """

    window_ms: int
    step_ms: int
    period_ms: int
    periods: int
    stat: str
    direction: str
    ratio: float
    min_current: float
    min_reference: float
    share_of: tuple[str, ...] | None = None  # the wider group_by of a share reference
    distinct: str | None = None  # count this field's distinct values, not the events

    @property
    def history_ms(self) -> int:
        """How far back the reference reaches from the end of the current window."""
        return self.periods * self.period_ms + self.window_ms


REFERENCE = Block(
    "reference",
    (
        Field(
            "period",
            Duration(),
            doc="how far back each reference window lies (default: the window)",
        ),
        Field(
            "count",
            Number(1, 52, integer=True),
            default=1,
            doc="how many past periods to compare with",
        ),
        Field(
            "stat", Choice(tuple(STATS)), default="median", doc="how to combine the past periods"
        ),
    ),
)
CONDITION = Block(
    "condition",
    (
        Field(
            "ratio_gte",
            Number(1),
            required=True,
            doc="current / reference (reference / current going down)",
        ),
        Field("current_gte", Number(0), default=0, doc="floor on the current count"),
        Field("reference_gte", Number(0), default=0, doc="floor on the reference count"),
    ),
)
FIELDS = (
    WINDOW,
    Field(
        "step",
        Duration(),
        doc="bucket size of the counts (default: a quarter of the window)",
    ),
    Field(
        "reference",
        REFERENCE,
        doc="what to compare with: the previous window, or seasonal periods",
    ),
    Field("direction", Choice(("up", "down", "both")), default="up"),
    Field("condition", CONDITION, required=True),
    Field(
        "share_of",
        Many(Text(), min_items=0),
        doc="a wider group_by (some of the rule's own parts, [] for everything): compare "
        "the key's share of that group's count with its usual share, so a rise of the "
        "whole group is no spike of the key",
    ),
    Field(
        "distinct",
        Path(),
        doc="count the distinct values of this field in each window (attrs.citizen: the "
        "citizens read, not the reads), now and in the reference",
    ),
)


def build(v: dict[str, Any], r: Reader) -> SpikeSpec:
    window = v["window"]
    ref = v["reference"] or {"period": window, "count": 1, "stat": "median"}
    period = ref["period"] or window
    if period < window:
        raise r.fail(
            "reference", "the reference period must be at least the window, or the windows overlap"
        )
    step = v["step"] or (window // 4 if window % 4 == 0 and window >= 240_000 else window)
    if window % step or period % step:
        raise r.fail("step", "'step' must divide both the window and the reference period")
    if (ref["count"] * period + window) // step > MAX_BUCKETS:
        raise r.fail(
            "reference",
            f"the reference reaches back more than {MAX_BUCKETS} steps: "
            "use a longer step or fewer periods",
        )
    cond = v["condition"]
    share_of = None
    if v.get("share_of") is not None:
        from rules.types.spike_share import share_parts  # imports this module

        share_of = share_parts(v["share_of"], r)
    if share_of is not None and v.get("distinct"):
        raise r.fail("distinct", "'distinct' cannot be combined with 'share_of': drop one")
    return SpikeSpec(
        window,
        step,
        period,
        ref["count"],
        ref["stat"],
        v["direction"],
        cond["ratio_gte"],
        cond["current_gte"],
        cond["reference_gte"],
        share_of,
        v.get("distinct"),
    )


@dataclass(slots=True)
class Counts:
    buckets: dict[int, int] = field(default_factory=dict)
    newest: int = -(2**62)
    last: tuple[Any, ...] | Event | None = None  # captured fields; an Event in older checkpoints
    episode: int | None = None
    level: int = -1
    due: int = INF
    cached: int | None = None  # bucket the two sums below were computed for
    base: int = 0  # current window without its newest bucket
    ref: float = 0.0
    first: int = ALWAYS  # the key's earliest event since it was last forgotten: its warm-up


class SpikeEvaluator:
    def __init__(self, rule: Rule, timers: Timers) -> None:
        spec = rule.spec
        assert isinstance(spec, SpikeSpec)
        self.rule, self.spec, self.timers = rule, spec, timers
        self.key_of = key_function(rule)
        self.capture = CaptureRow(rule)  # of the newest event: its fields, not the event
        self.nb = spec.window_ms // spec.step_ms
        self.pb = spec.period_ms // spec.step_ms
        self.keep = spec.periods * self.pb + self.nb  # buckets of history to keep
        self.stat = STATS[spec.stat]
        self.timed = spec.direction != "up" or rule.resolve is not None
        # per key: the Counts, the bucket and the sums (base, per-period references) last
        # computed, to slide them when the newest bucket moves on (not part of the state)
        self._sums: dict[str, tuple[Counts, int, int, list[int]]] = {}
        self._slides = self.nb > 1 and self.pb >= 1

    def selections(self) -> list[Selection]:
        return []

    def on_event(self, ev: Event, st: RuleState) -> list[Hit] | None:
        key = self.key_of(ev)
        if key is None:
            return None
        counts = st.keys.get(key)
        if counts is None:
            counts = Counts(first=ev.ts_ms)
            st.keys[key] = counts
        elif ev.ts_ms < counts.first:
            counts.first = ev.ts_ms
        st.dirty.add(key)
        b = bucket_of(ev.ts_ms, self.spec.step_ms, CST_OFFSET_MS)
        counts.buckets[b] = counts.buckets.get(b, 0) + 1
        if b != counts.cached:
            counts.cached = None  # a late event may change a cached sum
            sums = self._sums.get(key)
            if sums is not None and b < sums[1]:
                del self._sums[key]  # ... and one that can no longer slide
        if ev.ts_ms >= counts.newest:
            counts.newest, counts.last = ev.ts_ms, self.capture.row(ev)
        self.prune(key, counts)
        hits = self.evaluate(key, counts, max(counts.newest, ev.ts_ms))
        self._schedule(key, counts)
        return hits

    def prune(self, key: str, counts: Counts) -> None:
        """Forget the buckets no window can reach from the key's newest any more, once there
        are a window's worth of them: a key busy every day stays at its history's size."""
        if len(counts.buckets) > self.keep + self.nb:
            newest = bucket_of(counts.newest, self.spec.step_ms, CST_OFFSET_MS)
            for i in [i for i in counts.buckets if i <= newest - self.keep]:
                del counts.buckets[i]
            self._sums.pop(key, None)

    def measure(self, counts: Counts, t: int, key: str | None = None) -> tuple[int, float]:
        """(current count, reference) for the window that holds ``t``."""
        b = bucket_of(t, self.spec.step_ms, CST_OFFSET_MS)
        buckets = counts.buckets
        if counts.cached != b:
            sums = self._sums.get(key) if key is not None and self._slides else None
            if sums is not None and sums[0] is counts and 0 < b - sums[1] <= MAX_SLIDE:
                base, refs = sums[2], sums[3]
                for old in range(sums[1], b):  # one bucket at a time: cheaper than afresh
                    base, refs = slide_sums(buckets, old, base, refs, self.nb, self.pb)
            else:
                base = bucket_sum(buckets, b - self.nb + 1, b - 1)
                refs = [
                    bucket_sum(buckets, b - k * self.pb - self.nb + 1, b - k * self.pb)
                    for k in range(1, self.spec.periods + 1)
                ]
            if key is not None and self._slides:
                self._sums[key] = (counts, b, base, refs)
            counts.base = base
            counts.ref = self.stat(refs)
            counts.cached = b
        return counts.base + buckets.get(b, 0), counts.ref

    def holds(self, cur: int, ref: float) -> bool:
        s = self.spec
        if cur < s.min_current or ref < s.min_reference:
            return False
        up = cur >= s.ratio * ref
        down = ref >= s.ratio * cur
        return up if s.direction == "up" else down if s.direction == "down" else up or down

    def warm(self, counts: Counts, t: int) -> bool:
        """The key has had events for the whole reference span (its own, so the answer is
        the same whichever partition or worker holds the key)."""
        return counts.first <= t - self.spec.history_ms

    def evaluate(self, key: str, counts: Counts, t: int) -> list[Hit] | None:
        cur, ref = self.measure(counts, t, key)
        if self.warm(counts, t) and self.holds(cur, ref):
            level = self.rule.severity_for(float(cur))
            if counts.episode is None:
                counts.episode, counts.level = t, RANK[level]
                return [self.hit(key, counts, t, "fired", cur, ref)]
            if self.rule.severities is not None and RANK[level] > counts.level:
                counts.level = RANK[level]
                return [self.hit(key, counts, t, "fired", cur, ref, escalation=level)]
            return None
        if counts.episode is None:
            return None
        hit = self.hit(key, counts, t, "resolved", cur, ref) if self.rule.resolve else None
        counts.episode, counts.level = None, -1
        return [hit] if hit else None

    def hit(
        self,
        key: str,
        counts: Counts,
        t: int,
        stage: str,
        cur: int,
        ref: float,
        escalation: str = "",
    ) -> Hit:
        assert counts.episode is not None
        ratio = round(cur / ref, 3) if ref else None
        ctx = self.capture.ctx(counts.last) if counts.last is not None else {}
        return Hit(
            key,
            t,
            stage,
            counts.episode,
            ctx,
            float(cur),
            (t - self.spec.window_ms, t),
            escalation=escalation,
            extra={"reference": ref, "ratio": ratio},
        )

    def _schedule(self, key: str, counts: Counts) -> None:
        """Next look at this key: the next bucket boundary when time alone can change the
        outcome, else when its newest bucket leaves the history (to forget it)."""
        step = self.spec.step_ms
        newest = bucket_of(counts.newest, step, CST_OFFSET_MS)
        if self.timed or counts.episode is not None:
            due = bucket_end(newest, step, CST_OFFSET_MS)
        else:
            due = bucket_end(newest + self.keep, step, CST_OFFSET_MS)
        if due != counts.due:
            counts.due = due
            self.timers.push(due, key)

    def on_watermark(self, wm_ms: int, st: RuleState) -> list[Hit] | None:
        hits: list[Hit] = []
        step = self.spec.step_ms
        while (item := self.timers.pop_one(wm_ms)) is not None:
            due, key = item
            counts = st.keys.get(key)
            if counts is None or counts.due != due:
                continue
            counts.due = INF
            found = self.evaluate(key, counts, due)
            if found:
                hits.extend(found)
            b = bucket_of(due, step, CST_OFFSET_MS)
            old = [i for i in counts.buckets if i <= b - self.keep]
            if old:
                self._sums.pop(key, None)
                for i in old:
                    del counts.buckets[i]
            st.dirty.add(key)
            if not counts.buckets and counts.episode is None:
                del st.keys[key]
                self._sums.pop(key, None)
                continue
            if self.timed or counts.episode is not None:
                counts.due = due + step
                self.timers.push(counts.due, key)
            else:
                self._schedule(key, counts)
        return hits

    def rebuild(self, st: RuleState) -> None:
        self._sums.clear()
        started = st.meta.get("first_ms", ALWAYS)  # the rule-wide start older versions kept
        for counts in st.keys.values():
            if not hasattr(counts, "first"):  # pickled before keys kept their own
                counts.first = started
        self.timers.reset((c.due, k) for k, c in st.keys.items() if c.due < INF)

    def describe(self, key: str, st: RuleState) -> dict[str, Any]:
        counts = st.keys.get(key)
        if counts is None:
            return {"key": key, "current": 0}
        cur, ref = self.measure(counts, counts.newest, key)
        warm = self.warm(counts, counts.newest)
        if not warm:
            verdict = "not met: the reference is still warming up"
        elif self.holds(cur, ref):
            verdict = "met"
        else:
            s = self.spec
            verdict = (
                f"not met: current {cur} against reference {ref:g} (needs ratio >= {s.ratio:g}, "
                f"{s.direction}, current >= {s.min_current:g}, reference >= {s.min_reference:g})"
            )
        return {
            "key": key,
            "current": cur,
            "reference": ref,
            "warm": warm,
            "verdict": verdict,
            "episode_open": counts.episode is not None,
        }


def evaluator(rule: Rule, timers: Timers) -> SpikeEvaluator:
    """A spike rule's evaluator: against the key's own past (its events or its distinct
    values), or its share of a wider group."""
    assert isinstance(rule.spec, SpikeSpec)
    if rule.spec.distinct is not None:
        from rules.types.spike_distinct import DistinctEvaluator  # imports this module

        return DistinctEvaluator(rule, timers)
    if rule.spec.share_of is None:
        return SpikeEvaluator(rule, timers)
    from rules.types.spike_share import ShareEvaluator  # imports this module

    return ShareEvaluator(rule, timers)


TYPE = RuleType("spike", FIELDS, build, (Variant(SpikeSpec, evaluator, "cleared"),))
