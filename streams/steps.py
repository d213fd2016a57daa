"""Steps on the engines in progress, and writes a stop must let finish."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


class InFlight:
    """Counts the steps on the engines in progress (an event being applied, an idle tick):
    such a step may have changed an engine without having recorded its event as pending
    yet, so a checkpoint on stop waits until none is in progress.

    >>> steps = InFlight()
    >>> with steps:
    ...     steps.busy
    True
    >>> steps.busy
    False
    """

    def __init__(self) -> None:
        self._n = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def busy(self) -> bool:
        return self._n > 0

    def __enter__(self) -> InFlight:
        self._n += 1
        self._idle.clear()
        return self

    def __exit__(self, *exc: object) -> None:
        self._n -= 1
        if not self._n:
            self._idle.set()

    async def idle(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` until no step is in progress; False if one still is."""
        deadline = time.monotonic() + timeout_s
        while self.busy:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                await asyncio.wait_for(self._idle.wait(), left)
            except TimeoutError:
                return False
        return True


async def finish_before_cancel(aw: Awaitable[T]) -> T:
    """Await ``aw`` to its end even when the caller is cancelled meanwhile, then let the
    cancellation go on.

    The clue sink acknowledges a batch once its write to Redis is done; a stop that cancels
    the sink in the middle of a write lets that write finish first, so its warnings are in
    Redis when the batch's next owner reads them again (the upsert is idempotent). A stop
    that cannot wait for it ends by the stop deadline (exit 1, nothing committed).

    >>> async def main():
    ...     done = []
    ...     async def write():
    ...         await asyncio.sleep(0.05)
    ...         done.append(True)
    ...     task = asyncio.ensure_future(finish_before_cancel(write()))
    ...     await asyncio.sleep(0.01)
    ...     task.cancel()
    ...     try:
    ...         await task
    ...     except asyncio.CancelledError:
    ...         return done
    >>> asyncio.run(main())
    [True]
    """
    task = asyncio.ensure_future(aw)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait({task})
        raise
