"""The API's bounds: a fixed Redis connection pool and a cap on requests in flight.

Past either bound the API answers 503 with ``Retry-After`` instead of queueing without end:

- at most ``api_max_in_flight`` requests are worked on at once; one more is refused at once
  (``InFlightLimit``), before it reads its body or touches Redis;
- the Redis client draws from a pool of at most ``api_redis_max_connections`` connections
  (``bounded_redis``); a request that finds them all busy waits ``api_redis_pool_timeout_s``
  and is then refused (redis-py raises ``ConnectionError``, ``clues.replies`` answers 503).

So a burst costs a bounded number of sockets and file descriptors, and latency stays the
time of the work in flight, not of a queue. ``/healthz`` is never refused: it is how an
orchestrator tells "busy" from "dead".
"""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.driver_info import DriverInfo
from starlette.types import ASGIApp, Receive, Scope, Send

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
