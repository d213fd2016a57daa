"""``anomaly``: a named detector scores each matching event's features per group key; the
rule fires when the score passes an adaptive threshold (a quantile of past scores).

One model per rule (per engine), never per key: per-key state is only the feature
extractor's small dict. What the threshold flags is not learned as normal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from detectors import registry
from detectors.features import FeatureExtractor
from detectors.thresholds import AdaptiveThreshold
from riskloop.events import Event, RiskWarning
from rules.kinds.common import RuleState, group_key, make_warning
from rules.model import AnomalySpec, Rule


@dataclass
class Model:
    detector: Any
    threshold: AdaptiveThreshold
    last_score: float = 0.0


LAST_FLAG = "__last_flag_ms"


class AnomalyEvaluator:
    def __init__(self, rule: Rule) -> None:
        assert isinstance(rule.spec, AnomalySpec)
        self.rule, self.spec = rule, rule.spec
        self.extractor = FeatureExtractor(list(rule.spec.features))

    def selections(self) -> list:
        return [self.spec.match]

    def new_model(self) -> Model:
        det = registry.make(self.spec.detector, **dict(self.spec.params))
        thr = AdaptiveThreshold(q=self.spec.quantile, min_samples=self.spec.min_samples)
        return Model(det, thr)

    def on_event(self, ev: Event, st: RuleState) -> list[RiskWarning]:
        if not self.spec.match.matches(ev):
            return []
        key = group_key(self.rule, ev)
        if key is None:
            return []
        model: Model = st.model
        if model is None:
            model = st.model = self.new_model()
        key_state = st.keys.get(key) or {}
        x = self.extractor.extract(key_state, ev.ts_ms, ev)
        score = model.detector.score_one(x)
        flagged = model.threshold.classify(score)
        model.threshold.update(score)
        if not flagged:
            model.detector.learn_one(x)
        model.last_score = score
        st.model_dirty = True
        out = []
        last = key_state.get(LAST_FLAG)
        if flagged and (last is None or ev.ts_ms - last >= self.spec.cooldown_ms):
            key_state[LAST_FLAG] = ev.ts_ms
            out.append(
                make_warning(
                    self.rule,
                    key,
                    ts_ms=ev.ts_ms,
                    region=ev.region,
                    department=ev.department,
                    stage="fired",
                    episode_ms=ev.ts_ms,
                    value=round(score, 6),
                    evidence=(ev.id,),
                )
            )
        st.put(key, key_state)
        return out

    def on_watermark(self, wm_ms: int, st: RuleState) -> list[RiskWarning]:
        return []

    def rebuild(self, st: RuleState) -> None:
        return None
