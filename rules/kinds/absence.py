"""``absence``: an anchor event opens an obligation per key; a closing event must follow
before the deadline, or the rule fires when the watermark passes the deadline.

A closing event later than the deadline does not cancel it: the obligation was overdue.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from riskloop.events import Event, RiskWarning
from rules.kinds.common import RuleState, group_key, make_warning
from rules.model import AbsenceSpec, Rule


@dataclass(slots=True)
class Obligation:
    anchor_ms: int
    deadline_ms: int
    region: str
    department: str
    anchor_id: str


class AbsenceEvaluator:
    def __init__(self, rule: Rule) -> None:
        assert isinstance(rule.spec, AbsenceSpec)
        self.rule, self.spec = rule, rule.spec
        self._deadlines: list[tuple[int, str]] = []

    def selections(self) -> list:
        return [self.spec.anchor, self.spec.fulfilled_by]

    def deadline_ms(self, ev: Event) -> int | None:
        if self.spec.after_ms is not None:
            return ev.ts_ms + self.spec.after_ms
        raw = ev.get(self.spec.deadline_field or "")
        try:
            amount = float(raw)
        except (TypeError, ValueError):
            return None
        return ev.ts_ms + int(amount * self.spec.deadline_unit_ms) if amount > 0 else None

    def on_event(self, ev: Event, st: RuleState) -> list[RiskWarning]:
        is_anchor = self.spec.anchor.matches(ev)
        if not is_anchor and not self.spec.fulfilled_by.matches(ev):
            return []
        key = group_key(self.rule, ev)
        if key is None:
            return []
        pending: Obligation | None = st.keys.get(key)
        if is_anchor:
            deadline = self.deadline_ms(ev)
            if pending is None and deadline is not None:
                ob = Obligation(ev.ts_ms, deadline, ev.region, ev.department, ev.id)
                st.put(key, ob)
                heapq.heappush(self._deadlines, (deadline, key))
            return []
        if pending is None:
            return []
        st.drop(key)
        if ev.ts_ms <= pending.deadline_ms:
            return []
        return [self._fire(key, pending, ev.id)]

    def _fire(self, key: str, ob: Obligation, *more: str) -> RiskWarning:
        return make_warning(
            self.rule,
            key,
            ts_ms=ob.deadline_ms,
            region=ob.region,
            department=ob.department,
            stage="overdue",
            episode_ms=ob.deadline_ms,
            value=float(ob.deadline_ms - ob.anchor_ms) / 1000.0,
            window=(ob.anchor_ms, ob.deadline_ms),
            evidence=(ob.anchor_id, *more),
        )

    def on_watermark(self, wm_ms: int, st: RuleState) -> list[RiskWarning]:
        out = []
        heap = self._deadlines
        while heap and heap[0][0] <= wm_ms:
            deadline, key = heapq.heappop(heap)
            ob = st.keys.get(key)
            if ob is not None and ob.deadline_ms == deadline:
                st.drop(key)
                out.append(self._fire(key, ob))
        return out

    def rebuild(self, st: RuleState) -> None:
        self._deadlines = [(ob.deadline_ms, k) for k, ob in st.keys.items()]
        heapq.heapify(self._deadlines)
