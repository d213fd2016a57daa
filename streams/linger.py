"""When a batch gathered from a stream goes out: as soon as the input is drained, never after
a fixed wait.

Waiting a fixed time for more to come would make every event on a quiet stream wait that
long. Two patterns here instead, both with no clock:

- :func:`drained`: everything the consumer fetched has been handed to the stream and the
  stream has taken it all (its buffer is empty). Faust's consumer hands a fetched batch over
  one record at a time, yielding to the event loop between them, so an empty buffer alone
  would end a batch after every record; the consumer says when it is done
  (:mod:`streams.consumer`).
- :class:`GroupCommit`: one write at a time; what comes in while a write runs is the next
  batch, written as soon as that write is done and the input is drained. A lone item is
  written at once, and under load batches grow with the load by themselves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


def stream_queue(stream: Any) -> Any:
    """The buffer a Faust stream reads from (its channel's queue), or None."""
    return getattr(getattr(stream, "channel", None), "queue", None)


def drained(queue: Any, consumer: Any) -> bool:
    """Nothing waits in ``queue`` and ``consumer`` is not handing over a fetched batch."""
    return (queue is None or bool(queue.empty())) and not getattr(consumer, "delivering", False)


class GroupCommit(Generic[T]):
    """Items written by ``write`` in batches of at most ``max_items``, one write at a time.

    :meth:`add` starts a write when none runs and ``ready()`` says the input is drained (or
    a batch is full; :meth:`kick` when it becomes drained later); items added meanwhile wait
    for it and go out together right after it. Backpressure: an ``add`` that fills the
    waiting batch returns only once a write has taken it. A failed write is raised by the
    next ``add``.

    >>> async def main():
    ...     writes = []
    ...     async def write(batch):
    ...         writes.append(batch)
    ...         await asyncio.sleep(0.01)
    ...     sink = GroupCommit(write, max_items=3)
    ...     await sink.add(0)
    ...     await asyncio.sleep(0)  # the write of the lone item starts at once
    ...     for i in range(1, 5):
    ...         await sink.add(i)
    ...     await sink.idle()
    ...     return writes
    >>> asyncio.run(main())  # then what came in meanwhile, as many as a write takes
    [[0], [1, 2, 3], [4]]
    """

    def __init__(
        self,
        write: Callable[[list[T]], Awaitable[None]],
        max_items: int,
        ready: Callable[[], bool] = lambda: True,
    ) -> None:
        self.write, self.max_items, self.ready = write, max_items, ready
        self.pending: list[T] = []
        self._task: asyncio.Future[None] | None = None
        self._taken = asyncio.Event()

    def kick(self) -> None:
        """The input is drained (``ready`` has turned true): write what waits, if no write
        runs."""
        if self.pending and not self._running():
            self._task = asyncio.ensure_future(self._drain())

    async def add(self, item: T) -> None:
        self._raise_failure()
        self.pending.append(item)
        if not self._running() and (len(self.pending) >= self.max_items or self.ready()):
            self._task = asyncio.ensure_future(self._drain())
        while len(self.pending) >= self.max_items and self._running():
            self._taken.clear()
            await self._taken.wait()
        self._raise_failure()

    async def idle(self) -> None:
        """Until nothing waits and no write runs."""
        while (task := self._task) is not None and not task.done():
            await asyncio.wait({task})
        self._raise_failure()

    def _running(self) -> bool:
        return self._task is not None and not self._task.done()

    def _raise_failure(self) -> None:
        task = self._task
        if task is not None and task.done() and not task.cancelled() and task.exception():
            self._task = None
            raise task.exception()  # type: ignore[misc]

    async def _drain(self) -> None:
        try:
            while self.pending and (len(self.pending) >= self.max_items or self.ready()):
                batch = self.pending[: self.max_items]
                del self.pending[: self.max_items]
                self._taken.set()
                await self.write(batch)
        finally:
            self._taken.set()  # an add waiting for room sees the end (or the failure)
