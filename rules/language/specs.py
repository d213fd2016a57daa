"""The type-specific part of each rule: one frozen spec per type (parsed by the tables
of :mod:`rules.language.typetables`).

Examples:
    >>> SpikeSpec(3_600_000, 900_000, 604_800_000, 4, "median", "up", 3.0, 20, 5).history_ms
    2422800000
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rules.language.valuekinds import Aggregate
from rules.matching.expr_compile import Expr
from rules.matching.selection import Selection
from rules.types.aggregates import Limits


@dataclass(frozen=True, slots=True)
class MatchSpec:
    """``match``: every event that passes ``match``/``where`` is a warning."""


@dataclass(frozen=True, slots=True)
class ThresholdSpec:
    window_ms: int
    aggregate: Aggregate
    condition: Limits
    min_events: int = 1

    @property
    def field(self) -> str | None:
        return self.aggregate.field


@dataclass(frozen=True, slots=True)
class RatioSpec:
    window_ms: int
    numerator: Selection
    condition: Limits
    min_denominator: int


@dataclass(frozen=True, slots=True)
class SpikeSpec:
    window_ms: int
    step_ms: int
    period_ms: int
    periods: int
    stat: str
    direction: str
    ratio: float
    min_current: float
    min_reference: float

    @property
    def history_ms(self) -> int:
        """How far back the reference reaches from the end of the current window."""
        return self.periods * self.period_ms + self.window_ms


@dataclass(frozen=True, slots=True)
class NewValueSpec:
    fields: tuple[str, ...]
    lookback_ms: int
    ignore_null: bool
    warmup_ms: int


@dataclass(frozen=True, slots=True)
class ChangeSpec:
    fields: tuple[str, ...]
    within_ms: int
    ignore_null: bool


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    match: Selection
    where: Expr | None

    def matches(self, event: Any) -> bool:
        return self.match.matches(event) and (self.where is None or self.where.holds(event))


@dataclass(frozen=True, slots=True)
class SequenceSpec:
    within_ms: int
    steps: tuple[Step, ...]
    not_between: tuple[Step, ...]


@dataclass(frozen=True, slots=True)
class Deadline:
    """One of: a fixed duration, a number of ``unit`` s from a field, an absolute time in a
    field, or a number of working days (fixed or from a field)."""

    after_ms: int | None = None
    field: str | None = None
    unit: str = "d"
    at_field: str | None = None
    workdays: int | None = None


@dataclass(frozen=True, slots=True)
class Stage:
    at: float
    name: str
    severity: str | None = None


@dataclass(frozen=True, slots=True)
class AbsenceSpec:
    anchor: Selection
    fulfilled_by: Selection | None
    cancelled_by: Selection | None
    paused_by: Selection | None
    resumed_by: Selection | None
    deadline: Deadline
    stages: tuple[Stage, ...]

    @property
    def after_ms(self) -> int | None:
        return self.deadline.after_ms


@dataclass(frozen=True, slots=True)
class HeartbeatSpec:
    match: Selection
    every_ms: int
    grace_ms: int
    keys: tuple[str, ...]
    forget_ms: int


@dataclass(frozen=True, slots=True)
class AnomalySpec:
    detector: str
    params: tuple[tuple[str, Any], ...]
    features: tuple[str, ...]
    quantile: float
    min_samples: int
    cooldown_ms: int
    min_score: float | None = None


Spec = (
    MatchSpec
    | ThresholdSpec
    | RatioSpec
    | SpikeSpec
    | NewValueSpec
    | ChangeSpec
    | SequenceSpec
    | AbsenceSpec
    | HeartbeatSpec
    | AnomalySpec
)
