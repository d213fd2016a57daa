"""``spike`` with ``share_of``: a key's count against its usual share of a wider group.

A district's hotline tickets of one category are compared, not with their own past, but
with what the district's usual share of the whole city's tickets of that category predicts
at the city's current level::

    group_by: [region, attrs.category]
    share_of: [attrs.category]      # the wider group: the city's tickets of the category

The *reference* of a key is then its expected count: its usual share of the group times the
group's count in the current window. The usual share is taken over the reference periods
since the group's first event: with ``stat: mean`` pooled (the key's counts over all of them
divided by the group's), otherwise ``stat`` over the shares of the periods in which the
group had events (``median``, the default, so one past surge of the key does not lift it).
The ratio is the key's share now against its usual share, so a rise of the whole city (a
holiday, a festival) leaves it near 1 in every district, while a surge in one district lifts
that district's share alone. The floors work
as in every spike: ``current_gte`` on the key's count, ``reference_gte`` on the expected one.
``share_of: []`` is the share of everything the rule matches.

The rule runs in the key space of its ``share_of`` parts (``rules.engine.keyspace``), so every
key of a group and the group's own counts live on one partition; the group's counts are kept
in the rule's state beside its keys, in ``step`` buckets over the same history, under the
group's key with the prefix :data:`TOTAL`. A key is judged once its group has had events for
the current window and one reference period (a share needs no more), so the answer
is the group's own and the same whichever partition holds it. The group's count in a
window is what the group has reached when the key is judged (at the key's events, its
bucket boundaries and resolutions), in event-time order as the engine applies events.

Examples:
    >>> from rules import RuleSet
    >>> from rules.engine.engine import Engine
    >>> from rules.language.model import parse_rule
    >>> from envelope.build import EventMaker
    >>> make_event = EventMaker()
    >>> rule = parse_rule('''
    ... id: local-surge
    ... title: a district's share of the city's tickets rises
    ... type: spike
    ... match: {type: hotline.ticket}
    ... group_by: [region]
    ... share_of: []
    ... window: 1h
    ... reference: {period: 1h, count: 3}
    ... condition: {ratio_gte: 2, current_gte: 4}
    ... ''', "r.yaml")
    >>> eng = Engine(RuleSet([rule]), lateness_ms=0)
    >>> T0 = 1772413200000  # 2026-03-02 09:00 (UTC+8)
    >>> def tickets(minute, regions):
    ...     return [w for i, r in enumerate(regions) for w in eng.process(make_event(
    ...         ts_ms=T0 + (minute * 60 + i) * 1000, type="hotline.ticket", region=r))]
    >>> CITY = ("330102", "330105", "330106")
    >>> [w for m in (0, 60, 120) for w in tickets(m, CITY * 2)]
    []
    >>> tickets(180, CITY * 6)  # the whole city rises threefold: no district's share does
    []
    >>> [(w.key, w.value, w.details["share"], w.details["usual_share"])
    ...  for w in tickets(240, ("330102", "330105") + ("330106",) * 8)]  # one district surges
    [('330106', 4.0, 0.667, 0.333)]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from envelope.events import Event
from envelope.time import CST_OFFSET_MS
from rules.engine.timers import Timers
from rules.language.fields import Reader
from rules.language.model import Rule
from rules.types.aggregates import bucket_of, bucket_sum
from rules.types.common import Hit, RuleState, key_function
from rules.types.spike import Counts, SpikeEvaluator, SpikeSpec

TOTAL = "\x00g:"  # state keys of the groups' counts (no group key starts with NUL; not SUP)
WHOLE = "*"  # the group key of ``share_of: []``


def share_parts(share_of: list[str], r: Reader) -> tuple[str, ...]:
    """The ``share_of`` paths, checked against the rule's own ``group_by``."""
    raw = r.node.get("group_by") or []
    own = [str(p).partition("|")[0] for p in (raw if isinstance(raw, list) else [raw])]
    parts = tuple(str(p).partition("|")[0] for p in share_of)
    stray = [p for p in parts if p not in own]
    if stray:
        raise r.fail(
            "share_of",
            f"share_of must name some of the rule's group_by parts ({', '.join(own)}), "
            f"not {', '.join(stray)}",
        )
    if len(set(parts)) >= len(own):
        raise r.fail(
            "share_of",
            "share_of must be wider than group_by: leave out at least one of its parts "
            "(the one whose share is judged, like region)",
        )
    return tuple(p for p in own if p in parts)


@dataclass(slots=True)
class ShareCounts(Counts):
    """A key's counts, and the state key of its group's counts."""

    group: str = ""


def group_key_function(rule: Rule) -> Callable[[Any], str | None]:
    """The key of an event's group under ``share_of`` (None when the rule's own key is
    missing): the rule's key over the ``share_of`` parts, with their normalisers.

    >>> from rules.language.model import parse_rule
    >>> from envelope.build import EventMaker
    >>> rule = parse_rule("id: r1\\ntitle: t\\ntype: spike\\nmatch: {type: x.y}\\n"
    ...     "group_by: [region, attrs.category]\\nshare_of: [attrs.category]\\nwindow: 1h\\n"
    ...     "condition: {ratio_gte: 2}\\n", "r.yaml")
    >>> group_key_function(rule)(EventMaker()(ts_ms=0, category=" ｎｏｉｓｅ"))
    'noise'
    """
    spec = rule.spec
    assert isinstance(spec, SpikeSpec) and spec.share_of is not None
    own = key_function(rule)
    if not spec.share_of:
        return lambda ev: None if own(ev) is None else WHOLE
    picked = [i for i, p in enumerate(rule.group_by) if p in spec.share_of]
    norms = rule.key_norms or (None,) * len(rule.group_by)
    wider = dataclasses.replace(
        rule,
        group_by=tuple(rule.group_by[i] for i in picked),
        key_norms=tuple(norms[i] for i in picked) if rule.key_norms else (),
    )
    group = key_function(wider)
    return lambda ev: None if own(ev) is None else group(ev)


class ShareEvaluator(SpikeEvaluator):
    """A spike rule whose reference is the key's usual share of its ``share_of`` group."""

    def __init__(self, rule: Rule, timers: Timers) -> None:
        super().__init__(rule, timers)
        self.group_of = group_key_function(rule)
        self._keys: dict[str, Any] = {}  # the state's keys, where the groups' counts are
        self._shares: tuple[int, float | None] = (0, None)  # last measured: group now, usual share
        self._pruned = -(2**62)

    def on_event(self, ev: Event, st: RuleState) -> list[Hit] | None:
        self._keys = keys = st.keys
        key = self.key_of(ev)
        if key is None:
            return None
        gkey = TOTAL + (self.group_of(ev) or WHOLE)
        total = keys.get(gkey)
        if total is None:
            total = keys[gkey] = Counts(first=ev.ts_ms)
        total.first = min(total.first, ev.ts_ms)
        total.newest = max(total.newest, ev.ts_ms)
        b = bucket_of(ev.ts_ms, self.spec.step_ms, CST_OFFSET_MS)
        total.buckets[b] = total.buckets.get(b, 0) + 1
        st.dirty.add(gkey)
        if key not in keys:
            keys[key] = ShareCounts(first=ev.ts_ms, group=gkey)
        return super().on_event(ev, st)

    def _periods(self, buckets: dict[int, int], b: int, since: int) -> tuple[int, list[int]]:
        """(count of the window ending in bucket ``b``, the counts of its reference periods
        that end in or after bucket ``since``, the group's first)."""
        nb, pb = self.nb, self.pb
        now = bucket_sum(buckets, b - nb + 1, b)
        ends = [b - k * pb for k in range(1, self.spec.periods + 1) if b - k * pb >= since]
        return now, [bucket_sum(buckets, end - nb + 1, end) for end in ends]

    def usual_share(self, key_before: list[int], group_before: list[int]) -> float | None:
        """The key's share of the group over the reference periods: pooled (``mean``), or
        ``stat`` over the shares of the periods in which the group had events."""
        if self.spec.stat == "mean":
            total = sum(group_before)
            return sum(key_before) / total if total else None
        shares = [k / g for k, g in zip(key_before, group_before, strict=True) if g]
        return self.stat(shares) if shares else None

    def measure(self, counts: Counts, t: int, key: str | None = None) -> tuple[int, float]:
        """(the key's count, its expected count: its usual share of the group's count now)."""
        step = self.spec.step_ms
        b = bucket_of(t, step, CST_OFFSET_MS)
        total = self._keys.get(getattr(counts, "group", ""))
        since = bucket_of(total.first if total else counts.first, step, CST_OFFSET_MS)
        cur, key_before = self._periods(counts.buckets, b, since)
        group_now, group_before = (
            self._periods(total.buckets, b, since) if total else (cur, key_before)
        )
        usual = self.usual_share(key_before, group_before)
        self._shares = (group_now, usual)
        return cur, usual * group_now if usual else 0.0

    def warm(self, counts: Counts, t: int) -> bool:
        """The key's group has had events for the window and one reference period."""
        total = self._keys.get(getattr(counts, "group", ""))
        return total is not None and total.first <= t - self.spec.window_ms - self.spec.period_ms

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
        found = super().hit(key, counts, t, stage, cur, round(ref, 2), escalation)
        group_now, usual = self._shares
        assert found.extra is not None
        found.extra.update(
            share=round(cur / group_now, 3) if group_now else None,
            usual_share=None if usual is None else round(usual, 3),
            group_count=group_now,
        )
        return found

    def on_watermark(self, wm_ms: int, st: RuleState) -> list[Hit] | None:
        self._keys = st.keys
        hits = super().on_watermark(wm_ms, st)
        b = bucket_of(wm_ms, self.spec.step_ms, CST_OFFSET_MS)
        if b > self._pruned:  # forget the groups' buckets no window can reach any more
            self._pruned = b
            for gkey in [k for k in st.keys if k.startswith(TOTAL)]:
                total = st.keys[gkey]
                old = [i for i in total.buckets if i <= b - self.keep]
                for i in old:
                    del total.buckets[i]
                if old:
                    st.dirty.add(gkey)
                if not total.buckets:
                    del st.keys[gkey]
        return hits

    def rebuild(self, st: RuleState) -> None:
        self._keys = st.keys
        super().rebuild(st)

    def describe(self, key: str, st: RuleState) -> dict[str, Any]:
        self._keys = st.keys
        out = super().describe(key, st)
        if "reference" in out:
            group_now, usual = self._shares
            out["group_count"] = group_now
            out["usual_share"] = None if usual is None else round(usual, 3)
        return out
