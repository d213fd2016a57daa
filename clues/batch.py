"""Calls of one Lua script made in the same event-loop turn go to Redis in one pipeline.

With ``appendfsync always`` Redis writes and syncs its append-only file once per turn of its
own event loop, for every command it served in that turn, and only then replies. So what a
transition costs is mostly the round trip: a socket write that wakes Redis, a read, and
redis-py's work around each. Concurrent callers (HTTP requests of one API process) that each
send their own call pay that once per call; gathered, the calls ready in one turn of the
client's loop cost one write and one read, reach Redis together, are served in one of its
turns and share one fsync.

Each call is still its own atomic script run (the pipeline is no transaction): a call that
fails, or is refused by its script, answers its own caller only. A failure of the connection
(Redis down, the bounded pool exhausted) answers every caller of that pipeline, which the API
turns into 503 with ``Retry-After``. No call waits for a timer: a batch is sent as soon as the
turn that made it ends, and at most ``MAX_BATCH`` calls go in one pipeline.

The calls are FCALLs of the clue functions library (``clues.scripts.LIBRARY``): Redis runs
the shared prelude once, when it loads the library, not on every call. A Redis that lost the
library (a restart without it, FUNCTION FLUSH) answers that the function is missing: the
library is loaded again (FUNCTION LOAD REPLACE) and the calls it refused are sent again.
``Script`` is the same interface over EVALSHA of the plain script (the benchmark's baseline).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import NoScriptError, ResponseError

from clues import scripts

MAX_BATCH = 128  # calls in one pipeline: a few tens of ms of Redis time at most


class Function:
    """One function of the clue library: ``await f(args)`` one reply, ``await f.many(calls)``
    one reply (or the error of that call) per call, in one pipeline."""

    def __init__(self, redis: aioredis.Redis, name: str) -> None:
        self.redis, self.name = redis, scripts.function_name(name)

    @staticmethod
    def lost(reply: Any) -> bool:
        """Whether Redis refused the call for want of the library."""
        return isinstance(reply, ResponseError) and "function not found" in str(reply).lower()

    async def reload(self) -> None:
        await self.redis.function_load(scripts.LIBRARY, replace=True)  # type: ignore[misc]

    def queue(self, pipe: Any, args: Sequence[str | bytes]) -> None:
        pipe.fcall(self.name, 0, *args)

    async def __call__(self, args: Sequence[str]) -> Any:
        try:
            return await self.redis.fcall(self.name, 0, *args)  # type: ignore[misc]
        except ResponseError as exc:
            if not self.lost(exc):
                raise
        await self.reload()
        return await self.redis.fcall(self.name, 0, *args)  # type: ignore[misc]

    async def many(self, calls: Sequence[Sequence[str | bytes]]) -> list[Any]:
        replies = await self._pipeline(calls)
        lost = [i for i, r in enumerate(replies) if self.lost(r)]
        if lost:
            await self.reload()
            for i, reply in zip(lost, await self._pipeline([calls[i] for i in lost]), strict=True):
                replies[i] = reply
        return replies

    async def _pipeline(self, calls: Sequence[Sequence[str | bytes]]) -> list[Any]:
        pipe = self.redis.pipeline(transaction=False)
        for args in calls:
            self.queue(pipe, args)
        return list(await pipe.execute(raise_on_error=False))


class Script(Function):
    """The same over EVALSHA of a plain script (loaded again on NOSCRIPT)."""

    def __init__(self, redis: aioredis.Redis, text: str) -> None:
        self.redis, self.script = redis, redis.register_script(text)

    @staticmethod
    def lost(reply: Any) -> bool:
        return isinstance(reply, NoScriptError)

    async def reload(self) -> None:
        self.script.sha = await self.redis.script_load(self.script.script)

    def queue(self, pipe: Any, args: Sequence[str | bytes]) -> None:
        pipe.evalsha(self.script.sha, 0, *args)

    async def __call__(self, args: Sequence[str]) -> Any:
        return await self.script(args=args)


class ClueReads:
    """The reads a transition makes before its call, as a ``Function`` is called: args
    ``(clue key, warnings key or "")``, reply ``(HGETALL of the clue, LRANGE of its warning
    ids or None)``; one pipeline for all the calls given."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis

    async def __call__(self, args: Sequence[str]) -> Any:
        return (await self.many([args]))[0]

    async def many(self, calls: Sequence[Sequence[str]]) -> list[Any]:
        pipe = self.redis.pipeline(transaction=False)
        for ck, wk in calls:
            pipe.hgetall(ck)
            if wk:
                pipe.lrange(wk, 0, -1)
        replies = iter(await pipe.execute(raise_on_error=False))
        return [(next(replies), next(replies) if wk else None) for _, wk in calls]


class ScriptBatcher:
    """``await batcher(args)``: the script's reply to ``args``, sent with the calls that
    other tasks made in the same turn of the event loop."""

    def __init__(self, function: Function | ClueReads) -> None:
        self.function = function
        self._pending: list[tuple[Sequence[str], asyncio.Future[Any]]] = []
        self._sending: set[asyncio.Task[None]] = set()
        self.calls = self.sends = 0  # calls made, round trips they took (for the benchmark)

    async def __call__(self, args: Sequence[str]) -> Any:
        loop = asyncio.get_running_loop()
        self.calls += 1
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append((args, future))
        if len(self._pending) == 1:
            loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            task = asyncio.get_running_loop().create_task(self._send(batch))
            self._sending.add(task)  # held until done: the loop keeps only weak references
            task.add_done_callback(self._sending.discard)

    async def _send(self, batch: list[tuple[Sequence[str], asyncio.Future[Any]]]) -> None:
        try:
            replies = await self._replies([args for args, _ in batch])
        except BaseException as exc:  # the connection: every caller of this batch hears it
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), reply in zip(batch, replies, strict=True):
            if future.done():  # its caller was cancelled
                continue
            if isinstance(reply, BaseException):
                future.set_exception(reply)
            else:
                future.set_result(reply)

    async def _replies(self, calls: list[Sequence[str]]) -> list[Any]:
        """One reply (or the error of that call) per call, in order; a call alone goes by
        itself. A Redis that lost the library gets it again (``Function``)."""
        self.sends += 1
        if len(calls) == 1:
            return [await self.function(calls[0])]
        return await self.function.many(calls)
