"""How far event time has got on one partition that is fed by several inputs.

A partition of the worker reads one partition of each event topic. Each topic is in event
order on its own, but the two arrive interleaved in whatever order the consumer fetches
them, and a producer may hold one topic's batch back while it sends the other's. The
watermark may therefore only pass a time that *every* input has reached: one input's newest
event time must not fire a deadline that an event still on its way in another input would
have fulfilled. An input that has gone quiet (caught up and silent for a while, decided by
the caller, who owns the wall clock) is *released* and stops holding the others back until
it delivers again. An input that is expected but has delivered nothing yet holds event time
at its very start, so the first batch of one topic cannot run ahead of the other's.

Pure: times are arguments; no clock is read here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from rules.engine.admission import Admission

if TYPE_CHECKING:
    from envelope.events import Event, RiskWarning
    from rules.engine.engine import Engine


class InputClock:
    """Newest event time per input, and the time all inputs that still count have reached.

    >>> clock = InputClock(["events.service", "events.regulatory"])
    >>> clock.observe("events.service", 9_000) is None  # nothing from the other one yet
    True
    >>> clock.observe("events.regulatory", 5_000)       # the slower input holds it back
    5000
    >>> clock.observe("events.service", 12_000)
    5000
    >>> clock.release("events.regulatory")            # it went quiet: no longer waited for
    True
    >>> clock.reached()
    12000
    >>> clock.observe("events.regulatory", 11_000)    # delivering again: it holds again
    11000
    >>> InputClock.from_dict(clock.to_dict(), clock.expected).reached()
    11000
    >>> InputClock().observe("any", 7)                  # no declared inputs: each as it comes
    7
    """

    __slots__ = ("expected", "max_ms", "released")

    def __init__(self, expected: Iterable[str] = (), max_ms: dict[str, int] | None = None) -> None:
        self.expected: tuple[str, ...] = tuple(expected)
        self.max_ms: dict[str, int] = dict(max_ms or {})
        self.released: set[str] = set()

    def observe(self, source: str, ts_ms: int) -> int | None:
        """An event of ``source`` at ``ts_ms`` arrived; return what every input has reached
        (None while an expected input has delivered nothing and is not released)."""
        if ts_ms > self.max_ms.get(source, ts_ms - 1):
            self.max_ms[source] = ts_ms
        self.released.discard(source)
        return self.reached()

    def release(self, source: str) -> bool:
        """Stop waiting for ``source``; True when it was holding the others back."""
        if source in self.released or source not in self.holding():
            return False
        self.released.add(source)
        return True

    def any_holding(self) -> bool:
        """Whether some input still holds event time back: :meth:`holding` without the list
        (asked for every held event, so it stops at the first).

        >>> clock = InputClock(["a", "b"])
        >>> clock.release("a"), clock.any_holding()
        (True, True)
        >>> clock.release("b"), clock.any_holding(), clock.holding()
        (True, False, [])
        """
        released = self.released
        return any(s not in released for s in self.expected) or any(
            s not in released for s in self.max_ms
        )

    def holding(self) -> list[str]:
        """Inputs the watermark still waits for."""
        sources = dict.fromkeys(self.expected) | dict.fromkeys(self.max_ms)
        return [s for s in sources if s not in self.released]

    def reached(self) -> int | None:
        """The oldest newest-time of the inputs still waited for (None before every expected
        input has delivered or been released); when all are released, the newest of all."""
        waiting = self.holding()
        if any(s not in self.max_ms for s in waiting):
            return None
        if waiting:
            return min(self.max_ms[s] for s in waiting)
        return max(self.max_ms.values()) if self.max_ms else None

    def to_dict(self) -> dict[str, int]:
        """For checkpoints. A restored clock waits for every input again (the safe side)."""
        return dict(self.max_ms)

    @classmethod
    def from_dict(cls, data: dict[str, Any], expected: Iterable[str] = ()) -> InputClock:
        return cls(expected, {str(k): int(v) for k, v in data.items()})


def process_held(engine: Engine, clock: InputClock, source: str, event: Event) -> list[RiskWarning]:
    """Apply one event of ``source`` and move the engine's watermark to what every input has
    reached, less the engine's lateness: the one step the live worker and the open-ended
    backtest share."""
    reached = clock.observe(source, event.ts_ms)
    held = None if reached is None else reached - engine.lateness_ms
    return engine.process(event, advance=False, watermark=held)


def admit_held(
    engine: Engine,
    clock: InputClock,
    source: str,
    event: Event,
    now_ms: int,
    age_from_ms: int | None = None,
) -> tuple[Admission, list[RiskWarning]]:
    """:func:`process_held` for an event the engine admits (:meth:`Engine.admit` at the wall
    clock ``now_ms``); a refused one moves neither the input's clock nor the engine, and
    comes back with its admission and no warnings."""
    admission = engine.admit(event, now_ms, age_from_ms)
    if not admission.ok:
        return admission, []
    return admission, process_held(engine, clock, source, event)
