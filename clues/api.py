"""The clue HTTP API: list, read, claim and dispose clues; health and Prometheus metrics.

Run it with ``uvicorn clues.api:create_app --factory`` (settings from ``RISKLOOP_*``) or
``serve(settings)``. The caller names themselves in the ``X-Actor`` header (required on
writes) until tokens with roles arrive. The app's lifespan runs the lease reaper and, when a
broker is configured, the outbox publisher.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

import redis.asyncio as aioredis
import uvicorn
from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field, field_validator
from redis.exceptions import RedisError
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clues import metrics
from clues.model import DISPOSITION_CODES, STATUSES, ClueError, ClueNotFound, IllegalTransition
from clues.outbox import OutboxPublisher
from clues.store import ClueStore
from riskloop.settings import Settings

log = logging.getLogger(__name__)

REAP_INTERVAL_S = 5.0
Clock = Callable[[], int]


def wall_clock_ms() -> int:
    """Queue bookkeeping time (claims, leases, dispositions) in epoch ms."""
    return int(time.time() * 1000)


# --- request models and dependencies ------------------------------------------------------


class DisposeBody(BaseModel):
    """Body of POST /clues/{id}/dispose."""

    code: str = Field(description="disposition code: " + ", ".join(DISPOSITION_CODES))
    note: str = Field(default="", max_length=4000, description="what the verification found")

    @field_validator("code")
    @classmethod
    def _known_code(cls, v: str) -> str:
        if v not in DISPOSITION_CODES:
            valid = ", ".join(DISPOSITION_CODES)
            raise ValueError(f"unknown disposition code {v!r}; valid codes: {valid}")
        return v


class ClaimBody(BaseModel):
    """Optional body of POST /clues/{id}/claim."""

    lease_s: int = Field(
        default=1800, ge=60, le=7 * 24 * 3600, description="lease length in seconds"
    )


def require_actor(x_actor: Annotated[str | None, Header()] = None) -> str:
    """The caller's identity from ``X-Actor``; 401 when missing."""
    if not x_actor or not x_actor.strip():
        raise HTTPException(401, "missing X-Actor header: say who you are, e.g. 'X-Actor: alice'")
    return x_actor.strip()


Actor = Annotated[str, Depends(require_actor)]


def _store(request: Request) -> ClueStore:
    store: ClueStore = request.app.state.store
    return store


def _now(request: Request) -> int:
    clock: Clock = request.app.state.clock
    return clock()


# --- endpoints -----------------------------------------------------------------------------


async def list_clues(
    request: Request,
    status: Annotated[str | None, Query(description="one of " + ", ".join(STATUSES))] = None,
    rule: Annotated[str | None, Query(description="rule id")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> dict[str, Any]:
    """Clues in a status (default: all, newest first), optionally of one rule, a page at a time."""
    if status is not None and status not in STATUSES:
        valid = ", ".join(STATUSES)
        raise HTTPException(422, f"unknown status {status!r}; valid statuses: {valid}")
    items, nxt = await _store(request).list(status, rule, limit, cursor)
    return {"items": [c.to_dict() for c in items], "next_cursor": nxt}


async def get_clue(request: Request, clue_id: str) -> dict[str, Any]:
    """One clue with its audit trail (oldest first) and latest warning ids."""
    store = _store(request)
    clue = await store.get(clue_id)
    if clue is None:
        raise ClueNotFound(clue_id)
    body = clue.to_dict()
    body["audit"] = [e.to_dict() for e in await store.audit(clue_id)]
    body["warning_ids"] = await store.warning_ids(clue_id)
    return body


async def claim_clue(
    request: Request, clue_id: str, actor: Actor, body: ClaimBody | None = None
) -> dict[str, Any]:
    """Claim a new clue (or one whose lease ran out) for the caller, with a lease."""
    lease_s = (body or ClaimBody()).lease_s
    clue = await _store(request).claim(clue_id, actor, lease_s, now_ms=_now(request))
    return clue.to_dict()


async def dispose_clue(
    request: Request, clue_id: str, body: DisposeBody, actor: Actor
) -> dict[str, Any]:
    """Record the verdict on a clue the caller holds; publishes a Disposition."""
    clue = await _store(request).dispose(
        clue_id, actor, DISPOSITION_CODES[body.code], body.code, body.note, _now(request)
    )
    return clue.to_dict()


async def healthz(request: Request) -> JSONResponse:
    """Liveness plus a Redis round trip; 503 when Redis does not answer."""
    try:
        await _store(request).redis.ping()  # type: ignore[misc]
    except RedisError as exc:
        return JSONResponse({"status": "unavailable", "detail": f"redis: {exc}"}, 503)
    return JSONResponse({"status": "ok"})


async def prometheus_metrics(request: Request) -> Response:
    """Prometheus text; the clue gauge is read from Redis on every scrape."""
    metrics.set_clue_counts(await _store(request).counts_by_status())
    return Response(metrics.render(), media_type=metrics.CONTENT_TYPE)


ROUTES: list[BaseRoute] = [
    APIRoute("/clues", list_clues, methods=["GET"]),
    APIRoute("/clues/{clue_id}", get_clue, methods=["GET"]),
    APIRoute("/clues/{clue_id}/claim", claim_clue, methods=["POST"]),
    APIRoute("/clues/{clue_id}/dispose", dispose_clue, methods=["POST"]),
    APIRoute("/healthz", healthz, methods=["GET"]),
    APIRoute("/metrics", prometheus_metrics, methods=["GET"], include_in_schema=False),
]

# --- errors, middleware, lifespan ------------------------------------------------------------


async def _clue_error(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, ClueNotFound):
        return JSONResponse({"detail": str(exc)}, status_code=404)
    if isinstance(exc, IllegalTransition):
        return JSONResponse({"detail": str(exc), "status": exc.status}, status_code=409)
    return JSONResponse({"detail": str(exc)}, status_code=422)  # InvalidCursor, BadDisposition


class RequestTimer:
    """ASGI middleware: ``riskloop_api_request_seconds`` by method, route template, status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start, status = time.monotonic(), 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            # the route template keeps label cardinality bounded; fixed-path routes (docs)
            # only set "endpoint", so their path is the template
            route = getattr(scope.get("route"), "path", None)
            if route is None:
                route = scope["path"] if "endpoint" in scope else "unmatched"
            metrics.observe_request(scope["method"], route, status, time.monotonic() - start)


async def _reap_forever(store: ClueStore, clock: Clock, stop: asyncio.Event) -> None:
    """Return clues with expired leases to the queue every few seconds."""
    while not stop.is_set():
        try:
            await store.expire_leases(clock())
        except Exception as exc:  # Redis blip: try again next round
            log.warning("lease reaper failed: %s", exc)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), REAP_INTERVAL_S)


def _lifespan(
    settings: Settings, publish: bool, owns_redis: bool
) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store: ClueStore = app.state.store
        stop = asyncio.Event()
        tasks = [asyncio.create_task(_reap_forever(store, app.state.clock, stop))]
        if publish and settings.broker:
            pub = OutboxPublisher(
                store.redis,
                settings.bootstrap,
                prefix=store.prefix,
                consumer=f"api-{socket.gethostname()}",
            )
            tasks.append(asyncio.create_task(pub.run(stop)))
        try:
            yield
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            if owns_redis:
                await store.redis.aclose()

    return lifespan


def create_app(
    settings: Settings | None = None,
    redis: aioredis.Redis | None = None,
    *,
    prefix: str = "rl",
    clock: Clock = wall_clock_ms,
    publish: bool = True,
) -> FastAPI:
    """The API app. Without ``redis`` it connects to ``settings.redis_url`` (and closes it)."""
    settings = settings or Settings.from_env()
    owns_redis = redis is None
    client = redis or aioredis.from_url(settings.redis_url, decode_responses=True)
    app = FastAPI(
        title="riskloop clues",
        summary="The clue queue: list, claim and dispose of risk clues.",
        routes=ROUTES,
        lifespan=_lifespan(settings, publish, owns_redis),
    )
    app.state.store = ClueStore(client, prefix)
    app.state.clock = clock
    app.add_exception_handler(ClueError, _clue_error)
    app.add_middleware(RequestTimer)
    return app


def serve(settings: Settings | None = None, host: str | None = None) -> None:
    """Run the API with uvicorn on ``settings.api_port`` (blocks).

    The interface is ``host``, else ``settings.api_host`` once Settings has it, else
    ``$RISKLOOP_API_HOST`` (docker-compose sets 0.0.0.0), else loopback.
    """
    settings = settings or Settings.from_env()
    host = host or getattr(settings, "api_host", None) or os.environ.get("RISKLOOP_API_HOST")
    uvicorn.run(create_app(settings), host=host or "127.0.0.1", port=settings.api_port)
