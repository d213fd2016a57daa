"""From hits to warnings: severity, output templates, suppression and shadow mode.

Suppression works per dedup key (default: group key and stage) on event time: after a
warning, the same dedup key is held back for ``suppress.for`` unless its severity rises
(``escalate``); the next warning that gets through carries how many were held back
(``details["suppressed"]``). A resolution is held back only with the episode it closes: when
no warning of that episode got through, nobody was told it began. An entry is forgotten a full
period after its window ends, unless it held warnings back: then it is kept for up to
``HELD_KEEP_MS`` (30 days), so a nightly rule's next warning still reports the count.

A warning's id depends only on (rule id, logic hash, key, stage, episode and, for a
severity escalation, the new level), so a replay gives the same ids.

Every warning carries an event time (``ts_ms``): a ``fired`` or stage warning the instant
its condition started to hold (a window's end, a deadline, a silent heartbeat's due time);
a ``resolved`` warning the instant the condition was seen to clear: the event that
fulfilled an obligation or resumed a heartbeat, or the end of the first window that no
longer holds. A ``resolved`` warning is never dated before the warning it closes: a
fulfilling event that arrives late (within the lateness) after its deadline fired is
dated at the deadline's time, with its own time kept in ``value`` (seconds since the
anchor).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from envelope import keyparts
from envelope.events import RiskWarning, stable_id
from envelope.time import show_duration
from rules.engine.timers import Timers
from rules.language.blocks import RANK
from rules.language.model import Rule
from rules.types.common import Hit, RuleState

RESOLVED = "resolved"


def _window_text(rule: Rule) -> str:
    for name in ("window_ms", "within_ms", "lookback_ms", "every_ms"):
        ms = getattr(rule.spec, name, None)
        if ms:
            return show_duration(ms)
    return ""


HELD_KEEP_MS = 30 * 86_400_000


class Emitter:
    """Builds one rule's warnings; suppression entries live in the rule's state."""

    def __init__(self, rule: Rule, timers: Timers, stats: Counter[str]) -> None:
        self.rule = rule
        self.timers = timers
        self.stats = stats
        self.window = _window_text(rule)
        self.names = [p.rsplit(".", 1)[-1] for p in rule.group_by]

    def emit(self, hits: list[Hit], st: RuleState) -> list[RiskWarning]:
        out = []
        for hit in hits:
            level = hit.severity or self.rule.severity_for(hit.value)
            suppressed = 0
            if self.rule.suppress is not None:
                held = self._suppress(hit, level, st)
                if held is None:
                    self.stats["suppressed"] += 1
                    continue
                suppressed = held
            w = self.warning(hit, level, suppressed)
            self.stats["resolved" if hit.stage == RESOLVED else "emitted"] += 1
            if self.rule.shadow:
                self.stats["shadow"] += 1
            out.append(w)
        return out

    def _suppress(self, hit: Hit, level: str, st: RuleState) -> int | None:
        """Count held back since the last warning of this dedup key, or None to hold. A
        resolution is held when no warning of its episode got through (0 otherwise)."""
        sup = self.rule.suppress
        assert sup is not None
        hidden = f"{hit.key}\x1fheld\x1f{hit.episode}"  # an episode nobody was told of
        if hit.stage == RESOLVED:
            if st.sup.pop(hidden, None) is None:
                return 0
            st.sup_dirty.add(hidden)
            return None
        dkey = self.dedup_key(hit, level)
        entry = st.sup.get(dkey)
        rank = RANK.get(level, 0)
        if entry is not None and hit.ts_ms < entry[0] and not (sup.escalate and rank > entry[1]):
            entry[2] += 1
            st.sup_dirty.add(dkey)
            if not hit.escalation and hidden not in st.sup:
                st.sup[hidden] = [hit.ts_ms + sup.for_ms, 0, 0]
                st.sup_dirty.add(hidden)
                self.timers.push(hit.ts_ms + 2 * sup.for_ms, hidden)
            return None
        if st.sup.pop(hidden, None) is not None:  # a later stage of the episode got through
            st.sup_dirty.add(hidden)
        held = entry[2] if entry is not None else 0
        until = hit.ts_ms + sup.for_ms
        st.sup[dkey] = [until, rank, 0]
        st.sup_dirty.add(dkey)
        self.timers.push(until + sup.for_ms, dkey)
        return held

    def dedup_key(self, hit: Hit, level: str) -> str:
        sup = self.rule.suppress
        if sup is not None and sup.key is not None:
            return sup.key.render(self.values(hit, level, 0))
        return f"{hit.key}\x1f{hit.stage}"

    def expire(self, wm_ms: int, st: RuleState) -> None:
        """Forget suppression entries a full period past their end (their count is lost)."""
        sup = self.rule.suppress
        for dkey in self.timers.pop_due(wm_ms):
            entry = st.sup.get(dkey)
            if entry is None or sup is None or entry[0] + sup.for_ms > wm_ms:
                continue
            if entry[2] and entry[0] + HELD_KEEP_MS > wm_ms:  # a count still to report
                self.timers.push(entry[0] + HELD_KEEP_MS, dkey)
                continue
            del st.sup[dkey]
            st.sup_dirty.add(dkey)

    def rebuild(self, st: RuleState) -> None:
        sup = self.rule.suppress
        span = sup.for_ms if sup is not None else 0
        self.timers.reset(
            (entry[0] + (max(span, HELD_KEEP_MS) if entry[2] else span), dkey)
            for dkey, entry in st.sup.items()
        )

    def values(self, hit: Hit, level: str, suppressed: int) -> dict[str, Any]:
        values: dict[str, Any] = dict(hit.ctx)
        values.update(zip(self.names, keyparts.split(hit.key), strict=False))
        values.update(
            key=hit.key,
            value=hit.value,
            rule=self.rule.id,
            stage=hit.stage,
            severity=level,
            window=self.window,
            suppressed=suppressed,
            top=_top_text(hit.top),
        )
        if hit.extra:
            values.update(hit.extra)
        return values

    def warning(self, hit: Hit, level: str, suppressed: int) -> RiskWarning:
        rule = self.rule
        out = rule.output
        values = self.values(hit, level, suppressed)
        title = out.title.render(values) if out.title else rule.title
        summary = out.summary.render(values) if out.summary else ""
        episode = f"{hit.episode}^{hit.escalation}" if hit.escalation else hit.episode
        ctx = hit.ctx
        details: dict[str, Any] = {
            "entity": {"kind": ctx.get("entity.kind"), "id": ctx.get("entity.id")}
        }
        if out.fields:
            details["fields"] = {p: ctx.get(p) for p in out.fields}
        if hit.top:
            details["top"] = hit.top
        if hit.extra:
            details.update(hit.extra)
        if suppressed:
            details["suppressed"] = suppressed
        if rule.shadow:
            details["shadow"] = True
            details["status"] = rule.status
        return RiskWarning(
            id=stable_id(rule.id, rule.logic_hash, hit.key, hit.stage, episode, prefix="w-"),
            fingerprint=stable_id(rule.id, hit.key, prefix="f-"),
            rule_id=rule.id,
            rule_version=rule.version,
            logic_hash=rule.logic_hash,
            severity=level,
            title=title,
            summary=summary,
            key=hit.key,
            ts_ms=hit.ts_ms,
            region=str(ctx.get("region") or ""),
            department=str(ctx.get("department") or ""),
            stage=hit.stage,
            value=hit.value,
            window_start_ms=hit.window[0] if hit.window else None,
            window_end_ms=hit.window[1] if hit.window else None,
            tags=rule.tags,
            evidence=hit.evidence,
            details=details,
        )


def _top_text(top: dict[str, list[list[Any]]] | None) -> str:
    if not top:
        return ""
    return "; ".join(
        f"{f.rsplit('.', 1)[-1]}: " + ", ".join(f"{v} ({c})" for v, c in rows)
        for f, rows in top.items()
    )
