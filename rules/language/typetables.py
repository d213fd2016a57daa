"""The field table of each rule type and the builders of its spec.

``TYPES`` maps a rule type to its fields, the builder of its spec and whether the rule
needs a common ``match`` selection. The parser (:mod:`rules.language.model`) and the JSON Schema
(:mod:`rules.language.schemagen`) both read it: nothing else lists a type's keys.

Examples:
    >>> [f.name for f in TYPES["threshold"][0]]
    ['window', 'aggregate', 'condition', 'min_events']
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rules.language.blocks import SEVERITIES
from rules.language.fields import (
    Block,
    Choice,
    Duration,
    Field,
    Flag,
    Many,
    Number,
    Path,
    Reader,
    Text,
)
from rules.language.specs import (
    AbsenceSpec,
    AnomalySpec,
    ChangeSpec,
    Deadline,
    HeartbeatSpec,
    MatchSpec,
    NewValueSpec,
    RatioSpec,
    SequenceSpec,
    SpikeSpec,
    Stage,
    Step,
    ThresholdSpec,
)
from rules.language.valuekinds import (
    Aggregate,
    AggregateKind,
    ExprKind,
    Free,
    KeysKind,
    LimitsKind,
    Percent,
    SelectionKind,
)
from rules.types.aggregates import STATS

MAX_BUCKETS = 20_000


# --- builders (cross-field checks) ------------------------------------------------------------


def _threshold(v: dict[str, Any], r: Reader) -> ThresholdSpec:
    agg: Aggregate = v["aggregate"] or Aggregate("count")
    return ThresholdSpec(v["window"], agg, v["condition"], v["min_events"])


def _ratio(v: dict[str, Any], r: Reader) -> RatioSpec:
    for op, operand in v["condition"].parts:
        values = operand if isinstance(operand, tuple) else (operand,)
        if any(not 0 <= x <= 1 for x in values):
            raise r.fail(
                "condition", f"a ratio is a share from 0 to 1: '{op}: {operand}' cannot be"
            )
    return RatioSpec(v["window"], v["numerator"], v["condition"], v["min_denominator"])


def _spike(v: dict[str, Any], r: Reader) -> SpikeSpec:
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
    )


def _deadline(v: dict[str, Any], r: Reader) -> Deadline:
    given = [k for k in ("after", "field", "at_field", "workdays") if v[k] is not None]
    if len(given) != 1:
        raise r.fail(
            None,
            "deadline needs exactly one of 'after: 5d', 'field: attrs.days' "
            "(with 'unit'), 'at_field: attrs.due_at' or 'workdays: 20'",
        )
    if v["unit"] != "d" and v["field"] is None:
        raise r.fail("unit", "'unit' goes with 'field': it is the unit of the field's number")
    return Deadline(v["after"], v["field"], v["unit"], v["at_field"], v["workdays"])


def _absence(v: dict[str, Any], r: Reader) -> AbsenceSpec | HeartbeatSpec:
    obligation = (
        "anchor",
        "deadline",
        "fulfilled_by",
        "cancelled_by",
        "paused_by",
        "resumed_by",
        "stages",
    )
    if v["heartbeat"] is not None:
        clash = [k for k in obligation if v[k] is not None]
        if clash:
            raise r.fail(
                clash[0],
                f"'{clash[0]}' belongs to a deadline rule, not a heartbeat: use one or the other",
            )
        return v["heartbeat"]
    for key in ("anchor", "deadline"):
        if v[key] is None:
            raise r.fail(None, f"an absence rule needs '{key}' (or a 'heartbeat' block)")
    if (v["paused_by"] is None) != (v["resumed_by"] is None):
        raise r.fail(
            "paused_by" if v["paused_by"] else "resumed_by",
            "'paused_by' and 'resumed_by' go together",
        )
    stages = v["stages"] or (Stage(1.0, "overdue"),)
    if list(stages) != sorted(stages, key=lambda s: s.at) or len({s.at for s in stages}) < len(
        stages
    ):
        raise r.fail("stages", "stages must be in rising order of 'at', each at its own share")
    if len({s.name for s in stages}) < len(stages):
        raise r.fail("stages", "each stage needs its own name")
    return AbsenceSpec(
        v["anchor"],
        v["fulfilled_by"],
        v["cancelled_by"],
        v["paused_by"],
        v["resumed_by"],
        v["deadline"],
        tuple(stages),
    )


def _anomaly(v: dict[str, Any], r: Reader) -> AnomalySpec:
    det, thr = v["detector"], v["threshold"] or {}
    from detectors import registry  # checked now, not at the first event
    from detectors.features import FeatureExtractor

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
    )


# --- tables ---------------------------------------------------------------------------------

WINDOW = Field("window", Duration(), required=True, doc="sliding event-time window, like '1h'")
STEP_FIELDS = (
    Field("name", Text(r"^[a-z][a-z0-9_-]*$", "a lowercase name"), required=True),
    Field("match", SelectionKind(), required=True, doc="events of this step"),
    Field("where", ExprKind(), doc="an extra condition on the step's events"),
)
STEP = Block("step", STEP_FIELDS, lambda v, r: Step(v["name"], v["match"], v["where"]))
NEG = Block("not_between", STEP_FIELDS[1:], lambda v, r: Step("not", v["match"], v["where"]))
DEADLINE = Block(
    "deadline",
    (
        Field("after", Duration(), doc="a fixed time after the anchor, like '20d'"),
        Field("field", Path(), doc="a field holding a number of 'unit's after the anchor"),
        Field(
            "unit",
            Choice(("s", "m", "h", "d", "w", "workday")),
            default="d",
            doc="unit of 'field': workday counts China's working days",
        ),
        Field("at_field", Path(), doc="a field holding the deadline itself (ISO 8601 or epoch ms)"),
        Field(
            "workdays",
            Number(1, 3650, integer=True),
            doc="working days after the anchor (China's calendar)",
        ),
    ),
    _deadline,
)
STAGE = Block(
    "stage",
    (
        Field("at", Percent(), required=True, doc="share of the deadline, like '80%'"),
        Field("name", Text(r"^[a-z][a-z0-9_-]*$", "a lowercase name like due-soon"), required=True),
        Field("severity", Choice(SEVERITIES), doc="severity of this stage (default: the rule's)"),
    ),
    lambda v, r: Stage(v["at"], v["name"], v["severity"]),
)
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
    ),
    lambda v, r: HeartbeatSpec(
        v["match"], v["every"], v["grace"] or 0, v["keys"] or (), v["forget_after"]
    ),
)
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
SPIKE_CONDITION = Block(
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
DETECTOR = Block(
    "detector",
    (
        Field("name", Text(), required=True, doc="a registered detector, like hst"),
        Field("params", Free(), doc="detector parameters"),
    ),
)
ANOMALY_THRESHOLD = Block(
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

TypeEntry = tuple[tuple[Field, ...], Callable[[dict[str, Any], Reader], Any], bool]
TYPES: dict[str, TypeEntry] = {
    "match": ((), lambda v, r: MatchSpec(), True),
    "threshold": (
        (
            WINDOW,
            Field(
                "aggregate",
                AggregateKind(),
                default="count",
                doc="count, distinct(f), sum/avg/min/max(f) or percentile(f, p)",
            ),
            Field(
                "condition",
                LimitsKind(),
                required=True,
                doc="when the aggregate fires, like {gte: 3}",
            ),
            Field(
                "min_events", Number(1, integer=True), default=1, doc="events needed in the window"
            ),
        ),
        _threshold,
        True,
    ),
    "ratio": (
        (
            WINDOW,
            Field(
                "numerator",
                SelectionKind(),
                required=True,
                doc="the sub-selection whose share is measured",
            ),
            Field(
                "condition", LimitsKind(), required=True, doc="when the share fires, like {gt: 0.4}"
            ),
            Field(
                "min_denominator",
                Number(1, integer=True),
                default=10,
                doc="events needed in the window",
            ),
        ),
        _ratio,
        True,
    ),
    "spike": (
        (
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
            Field("condition", SPIKE_CONDITION, required=True),
        ),
        _spike,
        True,
    ),
    "new_value": (
        (
            Field(
                "fields", Many(Path()), required=True, doc="the value, or combination, that is new"
            ),
            Field(
                "lookback", Duration(), required=True, doc="seen within this long counts as known"
            ),
            Field("ignore_null", Flag(), default=True, doc="events missing a field are skipped"),
            Field(
                "warmup", Duration(), doc="a key must be known this long before its new values fire"
            ),
        ),
        lambda v, r: NewValueSpec(v["fields"], v["lookback"], v["ignore_null"], v["warmup"] or 0),
        True,
    ),
    "change": (
        (
            Field("fields", Many(Path()), required=True, doc="the tracked value (or combination)"),
            Field("within", Duration(), required=True, doc="forget the last value after this long"),
            Field("ignore_null", Flag(), default=True),
        ),
        lambda v, r: ChangeSpec(v["fields"], v["within"], v["ignore_null"]),
        True,
    ),
    "sequence": (
        (
            Field(
                "within", Duration(), required=True, doc="the whole sequence must fit in this span"
            ),
            Field("steps", Many(STEP, min_items=2, single_ok=False), required=True),
            Field(
                "not_between",
                Many(NEG, single_ok=False),
                doc="events that break an unfinished sequence",
            ),
        ),
        lambda v, r: SequenceSpec(v["within"], v["steps"], v["not_between"] or ()),
        False,
    ),
    "absence": (
        (
            Field("anchor", SelectionKind(), doc="events that open an obligation"),
            Field("deadline", DEADLINE),
            Field("fulfilled_by", SelectionKind(), doc="events that meet the obligation"),
            Field("cancelled_by", SelectionKind(), doc="events that end it without a warning"),
            Field("paused_by", SelectionKind(), doc="events that stop the clock"),
            Field("resumed_by", SelectionKind(), doc="events that restart it"),
            Field("stages", Many(STAGE, single_ok=False), doc="warnings at shares of the deadline"),
            Field("heartbeat", HEARTBEAT, doc="instead of a deadline: expect a beat per key"),
        ),
        _absence,
        False,
    ),
    "anomaly": (
        (
            Field("detector", DETECTOR, required=True),
            Field("features", Many(Text()), required=True, doc="feature names the detector scores"),
            Field("threshold", ANOMALY_THRESHOLD),
        ),
        _anomaly,
        True,
    ),
}
