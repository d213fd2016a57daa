"""The API's bounds: a fixed Redis connection pool and a cap on requests in flight.

Past either bound the API answers 503 with ``Retry-After`` instead of queueing without end:

- at most ``api_max_in_flight`` requests are worked on at once; one more is refused at once
  (``InFlightLimit``), before it reads its body or touches Redis;
- the Redis client draws from a pool of at most ``api_redis_max_connections`` connections
  (``bounded_redis``); a request that finds them all busy waits ``api_redis_pool_timeout_s``
  and is then refused (redis-py raises ``ConnectionError``, ``clues.replies`` answers 503).

So a burst costs a bounded number of sockets and file descriptors, and latency stays the
time of the work in flight, not of a queue. ``/healthz`` is never refused: it is how an
orchestrator tells "busy" from "dead". A request body longer than ``api_max_body_bytes`` is
refused with 413 (``BodyLimit``): by its ``Content-Length`` before a byte is read, or as soon
as a chunked body passes the bound, so no caller makes the API hold megabytes per request.
"""

from __future__ import annotations

import redis.asyncio as aioredis
from fastapi.responses import JSONResponse
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.driver_info import DriverInfo
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clues.replies import unavailable
from envelope.settings import Settings

ALWAYS_ADMITTED = frozenset(("/healthz",))
# What the client tells Redis it is (CLIENT SETINFO), made once: redis-py otherwise reads
# its own package metadata for every new connection, about a millisecond of CPU each, which
# turns a burst that opens connections into a slower one that opens more.
DRIVER_INFO = DriverInfo()


def bounded_redis(settings: Settings) -> aioredis.Redis:
    """A client on ``settings.redis_url`` whose pool never opens more than the bound."""
    pool = aioredis.BlockingConnectionPool.from_url(
        settings.redis_url,
        decode_responses=True,
        max_connections=settings.api_redis_max_connections,
        timeout=settings.api_redis_pool_timeout_s,
        socket_connect_timeout=settings.api_redis_pool_timeout_s,
        retry=Retry(NoBackoff(), 1),
        driver_info=DRIVER_INFO,
    )
    return aioredis.Redis(connection_pool=pool)


class InFlightLimit:
    """ASGI middleware: at most ``limit`` HTTP requests at once, 503 at once past it."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in ALWAYS_ADMITTED:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            reply = unavailable(f"the API is at capacity ({self.limit} requests in flight)")
            await reply(scope, receive, send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


class BodyLimit:
    """ASGI middleware: a request body over ``limit`` bytes is answered 413."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    def refusal(self) -> JSONResponse:
        detail = f"the request body is larger than {self.limit:,} bytes (api_max_body_bytes)"
        return JSONResponse({"detail": detail}, status_code=413)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self.refusal()(scope, receive, send)
            return
        seen, started, refused = 0, False, False

        async def counted() -> Message:
            # Past the bound: answer 413 now and tell the app the client went away, so it
            # stops reading; whatever it answers to that is dropped.
            nonlocal seen, refused, started
            message = await receive()
            if message["type"] == "http.request" and not refused:
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    refused = True
                    if not started:
                        started = True
                        await self.refusal()(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if refused:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counted, watched)
