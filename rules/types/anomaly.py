"""``anomaly``: a named detector scores each matching event's features per group key; the
rule fires when the score passes an adaptive threshold (a quantile of past scores).

One model per rule, or one per value of ``model_by`` (``[region]``: a model per district).
A model is one detector learning from every key, or with ``detector.per_key`` one detector
per group key inside it (each key against its own history, the model's population detector
for a key with too little history yet). The two combine: ``model_by: [region]`` with
``per_key`` gives every district its own population and its own per-official baselines, and
one adaptive threshold per district. A burst counts once in the threshold: while a key is in
its cooldown after a warning, its flagged scores are not added to the quantile's window, so
one official's thirty night-time decisions cannot lift the threshold above the next
official's.
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
from detectors.base import contributions
from detectors.entity import DAY_MS, EntityBaselines
from detectors.features import FeatureExtractor
from detectors.thresholds import AdaptiveThreshold
from envelope.events import Event
from envelope.paths import getter
from rules.engine.timers import Timers
from rules.language.fields import Block, Duration, Field, Flag, Many, Number, Reader, Text
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
    per_key: bool = False


DETECTOR = Block(
    "detector",
    (
        Field("name", Text(), required=True, doc="a registered detector, like hst"),
        Field("params", Free(), doc="detector parameters"),
        Field(
            "per_key",
            Flag(),
            default=False,
            doc="one model per group key, judged against its own history (a population "
            "model scores a key until it has 30 events; a key idle for 30 days is dropped)",
        ),
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
        bool(det.get("per_key")),
    )


def explain(detector: Any, x: dict[str, float], score: float, threshold: float | None) -> dict:
    """What a warning says about its score: the features, the score, the threshold it passed
    and the features that contributed most (``[name, share]``, largest first).

    Examples:
        >>> from detectors.registry import make
        >>> det = make("gaussian")
        >>> for v in (1.0, 3.0, 1.0, 3.0):
        ...     det.learn_one({"count_1h": v, "is_night": 0.0})
        >>> x = {"count_1h": 9.0, "is_night": 0.0}
        >>> explain(det, x, det.score_one(x), 3.5)["top_features"]
        [['count_1h', 7.0], ['is_night', 0.0]]
    """
    shares = contributions(detector, x)
    return {
        "score": round(score, 6),
        "threshold": None if threshold is None else round(threshold, 6),
        "features": {k: round(v, 6) for k, v in x.items()},
        "top_features": [[k, round(v, 6)] for k, v in list(shares.items())[:TOP_FEATURES]],
    }


def passed(threshold: AdaptiveThreshold) -> float | None:
    """The bar a flagged score cleared: the quantile, or the floor when it is higher.

    Examples:
        >>> passed(AdaptiveThreshold(min_samples=1, min_score=8.0)) is None  # warm-up
        True
    """
    value = threshold.value
    if value is None or threshold.min_score is None:
        return value
    return max(value, threshold.min_score)


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
IDLE_DAYS = 30  # a per-key model idle this long (event time) is dropped
TOP_FEATURES = 3
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
        spec = self.spec
        det: Any = (
            EntityBaselines(spec.detector, dict(spec.params), idle_ms=IDLE_DAYS * DAY_MS)
            if spec.per_key
            else registry.make(spec.detector, **dict(spec.params))
        )
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
        judge = model.detector.model_of(key) if self.spec.per_key else model.detector
        score = judge.score_one(x)
        threshold = model.threshold
        above = threshold.above_quantile(score)
        flagged = above and (threshold.min_score is None or score >= threshold.min_score)
        last = key_state.get(LAST_FLAG)
        cooling = last is not None and ev.ts_ms - last < self.spec.cooldown_ms
        if not (flagged and cooling):
            threshold.update(score)
        if not above:  # the quantile's tail is never learned as normal, floor or not
            self._learn(model, key, x, ev.ts_ms)
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
                    extra={"anomaly": explain(judge, x, score, passed(threshold))},
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
        model = self.model(st, model_key if self.model_of is not None else None)
        self._learn(model, key, x, key_state.get(LAST_FLAG) or 0)
        st.model_dirty = True
        return True

    def _learn(self, model: Model, key: str, x: dict[str, float], ts_ms: int) -> None:
        if self.spec.per_key:
            model.detector.learn_one(key, x, ts_ms)
        else:
            model.detector.learn_one(x)

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
