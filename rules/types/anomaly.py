"""``anomaly``: a named detector scores each matching event's features per group key; the
rule fires when the score passes an adaptive threshold (a quantile of past scores).

One model per rule, never per key (per-key state is only the feature extractor's small
dict), or one per value of ``model_by`` (``[region]``: a model per district). A burst counts
once in the threshold: while a key is in its cooldown after a warning, its flagged scores are
not added to the quantile's window, so one
official's thirty night-time decisions cannot lift the threshold above the next official's.
``threshold.min_score`` is a floor in the detector's units (standard deviations for
``gaussian``): the quantile alone flags about ``1 - q`` of a steady stream.

What the threshold flags is not learned as normal; the features of the latest flagged
event per key are kept until an inspector's verdict comes back
(:meth:`AnomalyEvaluator.on_feedback`): a dismissed warning (a false positive) is then
learned as normal, so the detector stops flagging that pattern; a confirmed one never is.

Examples:
    >>> from rules.language.model import parse_rule
    >>> rule = parse_rule('''
    ... id: odd-approvals
    ... title: unusual approval activity
    ... type: anomaly
    ... match: {type: application.decided}
    ... group_by: [attrs.official]
    ... detector: {name: hst, params: {seed: 7}}
    ... features: [hour_sin, hour_cos, count_1h]
    ... threshold: {quantile: 0.99, min_samples: 50}
    ... ''', "r.yaml")
    >>> rule.spec.detector, rule.spec.quantile, rule.spec.cooldown_ms
    ('hst', 0.99, 3600000)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from detectors import registry
from detectors.features import FeatureExtractor
from detectors.thresholds import AdaptiveThreshold
from envelope.events import Event
from envelope.paths import getter
from rules.engine.timers import Timers
from rules.language.fields import Block, Duration, Field, Many, Number, Reader, Text
from rules.language.model import Rule
from rules.language.valuekinds import Free
from rules.matching.selection import Selection
from rules.types.common import Hit, RuleState, capture_function, key_function
from rules.types.registry import RuleType, Variant


@dataclass(frozen=True, slots=True)
class AnomalySpec:
    detector: str
    params: tuple[tuple[str, Any], ...]
    features: tuple[str, ...]
    quantile: float
    min_samples: int
    cooldown_ms: int
    min_score: float | None = None
    model_by: tuple[str, ...] = ()


DETECTOR = Block(
    "detector",
    (
        Field("name", Text(), required=True, doc="a registered detector, like hst"),
        Field("params", Free(), doc="detector parameters"),
    ),
)
THRESHOLD = Block(
    "threshold",
    (
        Field(
            "quantile",
            Number(0.5, 0.99999),
            default=0.995,
            doc="fire above this quantile of past scores",
        ),
        Field(
            "min_samples", Number(1, integer=True), default=200, doc="scores to see before firing"
        ),
        Field("cooldown", Duration(), default="1h", doc="quiet time per key after a warning"),
        Field(
            "min_score",
            Number(),
            doc="a floor: a score below it never fires, whatever the quantile",
        ),
    ),
)
FIELDS = (
    Field("detector", DETECTOR, required=True),
    Field(
        "model_by",
        Many(Text()),
        doc="fields whose values each get a model of their own, like [region] for one model "
        "per district; default: one model learns from every key of the rule",
    ),
    Field("features", Many(Text()), required=True, doc="feature names the detector scores"),
    Field("threshold", THRESHOLD),
)


def build(v: dict[str, Any], r: Reader) -> AnomalySpec:
    """The detector and the features are checked now, not at the first event."""
    det, thr = v["detector"], v["threshold"] or {}
    try:
        registry.make(det["name"], **dict(det["params"] or {}))
    except ValueError as exc:
        raise r.fail("detector", str(exc)) from None
    try:
        FeatureExtractor(list(v["features"]))
    except ValueError as exc:
        raise r.fail("features", str(exc)) from None
    if not v["features"]:
        raise r.fail("features", "an anomaly rule needs at least one feature, like [count_1h]")
    return AnomalySpec(
        det["name"],
        det["params"] or (),
        v["features"],
        thr.get("quantile") or 0.995,
        thr.get("min_samples") or 200,
        thr.get("cooldown") or 3_600_000,
        thr.get("min_score"),
        tuple(v.get("model_by") or ()),
    )


@dataclass
class Model:
    detector: Any
    threshold: AdaptiveThreshold
    last_score: float = 0.0


@dataclass
class ModelSet:
    """One model per value of ``model_by`` (a district's decisions); what the worker shows
    (``last_score``, ``threshold``) is the model used last."""

    models: dict[str, Model]
    last: str = ""

    @property
    def last_score(self) -> float:
        model = self.models.get(self.last)
        return model.last_score if model else 0.0

    @property
    def threshold(self) -> AdaptiveThreshold | None:
        model = self.models.get(self.last)
        return model.threshold if model else None


def _model_key(paths: tuple[str, ...]) -> Callable[[Any], str]:
    getters = [getter(p) for p in paths]
    return lambda ev: "|".join(str(g(ev)) for g in getters)


LAST_FLAG = "__last_flag_ms"
FLAGGED = "__flagged_x"  # features of the latest warned event, until its verdict
FLAGGED_MODEL = "__flagged_model"  # ... and the model that flagged it (with model_by)


class AnomalyEvaluator:
    def __init__(self, rule: Rule, timers: Timers) -> None:
        assert isinstance(rule.spec, AnomalySpec)
        self.rule, self.spec = rule, rule.spec
        self.extractor = FeatureExtractor(list(rule.spec.features))
        self.key_of = key_function(rule)
        self.model_of = _model_key(rule.spec.model_by) if rule.spec.model_by else None
        self.capture = capture_function(rule)

    def selections(self) -> list[Selection]:
        return []

    def new_model(self) -> Model:
        det = registry.make(self.spec.detector, **dict(self.spec.params))
        thr = AdaptiveThreshold(
            q=self.spec.quantile,
            min_samples=self.spec.min_samples,
            min_score=self.spec.min_score,
        )
        return Model(det, thr)

    def model(self, st: RuleState, model_key: str | None) -> Model:
        """The rule's model (one per ``model_by`` value when the rule has one)."""
        if model_key is None:
            if st.model is None:
                st.model = self.new_model()
            return st.model
        if st.model is None:
            st.model = ModelSet({})
        models: ModelSet = st.model
        models.last = model_key
        model = models.models.get(model_key)
        if model is None:
            model = models.models[model_key] = self.new_model()
        return model

    def on_event(self, ev: Event, st: RuleState) -> list[Hit] | None:
        key = self.key_of(ev)
        if key is None:
            return None
        model_key = None if self.model_of is None else self.model_of(ev)
        model = self.model(st, model_key)
        key_state = st.keys.get(key) or {}
        x = self.extractor.extract(key_state, ev.ts_ms, ev)
        score = model.detector.score_one(x)
        threshold = model.threshold
        above = threshold.above_quantile(score)
        flagged = above and (threshold.min_score is None or score >= threshold.min_score)
        last = key_state.get(LAST_FLAG)
        cooling = last is not None and ev.ts_ms - last < self.spec.cooldown_ms
        if not (flagged and cooling):
            threshold.update(score)
        if not above:  # the quantile's tail is never learned as normal, floor or not
            model.detector.learn_one(x)
        model.last_score = score
        st.model_dirty = True
        hits = None
        if flagged and not cooling:
            key_state[LAST_FLAG] = ev.ts_ms
            key_state[FLAGGED] = x
            if model_key is not None:
                key_state[FLAGGED_MODEL] = model_key
            hits = [
                Hit(
                    key,
                    ev.ts_ms,
                    "fired",
                    ev.ts_ms,
                    self.capture(ev),
                    round(score, 6),
                    evidence=(ev.id,),
                )
            ]
        st.put(key, key_state)
        return hits

    def on_watermark(self, wm_ms: int, st: RuleState) -> list[Hit] | None:
        return None

    def on_feedback(self, key: str, outcome: str, st: RuleState) -> bool:
        """An inspector's verdict on this rule's warning for ``key``. ``dismissed``: the
        warned event's features are learned as normal; ``confirmed``: they are dropped, never
        learned. True when the model learned. A verdict with nothing waiting (already
        applied, or the key's state is gone) changes nothing, so a redelivery is harmless."""
        key_state = st.keys.get(key)
        if not key_state or FLAGGED not in key_state:
            return False
        x = key_state.pop(FLAGGED)
        model_key = key_state.pop(FLAGGED_MODEL, None)
        st.put(key, key_state)
        if outcome != "dismissed" or st.model is None:
            return False
        self.model(st, model_key if self.model_of is not None else None).detector.learn_one(x)
        st.model_dirty = True
        return True

    def rebuild(self, st: RuleState) -> None:
        return None

    def describe(self, key: str, st: RuleState) -> dict[str, Any]:
        model = st.model
        return {
            "key": key,
            "last_score": getattr(model, "last_score", None),
            "threshold": getattr(getattr(model, "threshold", None), "value", None),
            "features": dict(st.keys.get(key) or {}),
        }


TYPE = RuleType("anomaly", FIELDS, build, (Variant(AnomalySpec, AnomalyEvaluator),))
