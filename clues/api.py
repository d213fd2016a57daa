"""The clue HTTP API: app factory, error replies, request timing and background tasks.

Run it with ``uvicorn clues.api:create_app --factory`` (settings from ``RISKLOOP_*``) or
``serve(settings)``. Endpoints: ``clues.routes`` (clues, transitions, bulk, tickets, tokens)
and ``clues.page`` (the inspector page at ``/ui``); OpenAPI at ``/openapi.json``, docs at
``/docs``. Callers authenticate with ``Authorization: Bearer <token>``; tokens are created
with ``riskloop clues token create``, ``POST /admin/tokens`` or, at start-up, from
``RISKLOOP_API_BOOTSTRAP_TOKENS``. The lifespan runs the lease reaper and the deadline
ticker (every ``tick_s``, on the injectable ``clock``) and, when a broker is configured, the
outbox publisher.

At start-up the calendar patch (``RISKLOOP_CALENDAR_FILE``) is installed and the deadline
policy (``RISKLOOP_DEADLINE_POLICY_FILE``) read: a bad file stops the start with its
``file:line`` message. The lifespan warns when the Redis behind the store does not promise
what the store acknowledges: an acknowledged transition survives a crash only with
``appendonly yes`` and ``appendfsync always``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import AsyncIterator, Callable

import redis.asyncio as aioredis
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from fastapi_offline import FastAPIOffline
from redis.exceptions import RedisError
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clues import access_log, metrics, openapi, page, replies, routes, token_routes, views_api
from clues.access import BadTokenSpec
from clues.admission import BodyLimit, InFlightLimit, bounded_redis
from clues.headers import ResponseHeaders
from clues.outbox import OutboxPublisher
from clues.places import Places
from clues.policy_file import PolicyFileError, load_policy
from clues.privacy import BadPseudonymKey, Masker, old_pseudonym_keys, pseudonym_key
from clues.sla import run_ticker
from clues.store import ClueStore
from clues.tokens import TokenStore
from clues.workdays import DeadlinePolicy, WorkCalendar
from envelope import calendar_file
from envelope.settings import Settings

log = logging.getLogger(__name__)

TICK_S = 5.0
Clock = Callable[[], int]


def wall_clock_ms() -> int:
    """Queue bookkeeping time (claims, leases, deadlines) in epoch ms."""
    return int(time.time() * 1000)


def _store(request: Request) -> ClueStore:
    store: ClueStore = request.app.state.store
    return store


async def healthz(request: Request) -> JSONResponse:
    """Liveness plus a Redis round trip; 503 when Redis does not answer."""
    try:
        await _store(request).redis.ping()  # type: ignore[misc]
    except RedisError as exc:
        return replies.unavailable(f"redis: {exc}", status="unavailable")
    return JSONResponse({"status": "ok"})


async def prometheus_metrics(request: Request) -> Response:
    """Prometheus text; gauges and durable counters are read from Redis on every scrape."""
    store = _store(request)
    metrics.set_clue_counts(await store.counts_by_status())
    metrics.REDIS_STATS.update(*await store.stats())
    return Response(metrics.render(), media_type=metrics.CONTENT_TYPE)


ROUTES: list[BaseRoute] = [
    *routes.ROUTES,
    *token_routes.ROUTES,
    *page.ROUTES,
    *views_api.ROUTES,  # supervisor views (/views/...)
    APIRoute("/healthz", healthz, methods=["GET"], tags=["ops"], responses=replies.responses(503)),
    APIRoute("/metrics", prometheus_metrics, methods=["GET"], include_in_schema=False),
]

# --- errors, middleware, lifespan ------------------------------------------------------------


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


async def persistence_risk(redis: aioredis.Redis) -> str | None:
    """Why this Redis could lose transitions the store acknowledged (None: it cannot).

    Every acknowledged transition survives a crash of Redis or of its machine only if Redis
    appends each write to its AOF and syncs it before replying: ``appendonly yes`` and
    ``appendfsync always``.
    """
    fix = "run redis-server with --appendonly yes --appendfsync always"
    try:
        raw = await redis.config_get("append*")
    except RedisError as exc:
        return f"cannot read Redis's persistence settings ({exc}): check them, or {fix}"
    conf = {_text(k): _text(v) for k, v in raw.items()}
    if conf.get("appendonly") != "yes":
        return f"Redis runs without its append-only file: a restart loses recent transitions; {fix}"
    if conf.get("appendfsync") != "always":
        return (
            f"Redis syncs its append-only file {conf.get('appendfsync')!r}, not on every write: "
            f"a crash of its machine can lose the last acknowledged transitions; {fix}"
        )
    return None


def _text(v: object) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _calendar_and_policy(
    settings: Settings, policy: DeadlinePolicy | None
) -> DeadlinePolicy | None:
    """Install the calendar patch and read the deadline policy; a bad file stops the start."""
    try:
        calendar_file.install(settings)
    except calendar_file.CalendarFileError as exc:
        raise SystemExit(f"RISKLOOP_CALENDAR_FILE: {exc}") from None
    if policy is not None or not settings.deadline_policy_file:
        return policy
    try:
        return load_policy(settings.deadline_policy_file)
    except PolicyFileError as exc:
        raise SystemExit(f"RISKLOOP_DEADLINE_POLICY_FILE: {exc}") from None


def _secrets(settings: Settings) -> tuple[bytes, tuple[bytes, ...]]:
    """Check the token lifetimes and read the pseudonym key and the older ones; a bad value
    stops the start."""
    if settings.api_token_days > settings.api_token_max_days:
        raise SystemExit(
            f"RISKLOOP_API_TOKEN_DAYS={settings.api_token_days}: at most"
            f" RISKLOOP_API_TOKEN_MAX_DAYS={settings.api_token_max_days}"
        )
    try:
        return pseudonym_key(settings), old_pseudonym_keys(settings)
    except BadPseudonymKey as exc:
        raise SystemExit(str(exc)) from None


def _lifespan(
    settings: Settings, publish: bool, owns_redis: bool, tick_s: float
) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store: ClueStore = app.state.store
        risk = await persistence_risk(store.redis)
        if risk:
            log.warning("clue store: %s", risk)
        if await store.redis.exists(store.keys.secret):
            log.warning("clue store: %s holds an old pseudonym key: delete it", store.keys.secret)
        spec = getattr(settings, "api_bootstrap_tokens", "") or ""
        if spec:
            n = await app.state.tokens.bootstrap(spec, app.state.clock())
            log.info("stored %d bootstrap token(s)", n)
        stop = asyncio.Event()
        tasks = [asyncio.create_task(run_ticker(store, app.state.clock, stop, tick_s))]
        if publish and settings.broker:
            pub = OutboxPublisher(
                store.redis,
                settings.bootstrap,
                prefix=store.prefix,
                consumer=f"api-{socket.gethostname()}",
                masker=await store.masker(),
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
    tick_s: float = TICK_S,
    policy: DeadlinePolicy | None = None,
    calendar: WorkCalendar | None = None,
) -> FastAPI:
    """The API app. Without ``redis`` it connects to ``settings.redis_url`` (and closes it).

    ``policy`` (default: ``settings.deadline_policy_file``, else the shipped one) and
    ``calendar`` (default: the installed calendar patch) are for tests.
    """
    settings = settings or Settings.from_env()
    spec = getattr(settings, "api_bootstrap_tokens", "") or ""
    if spec:
        try:
            from clues.access import parse_bootstrap

            parse_bootstrap(spec)  # a bad spec stops the start, naming the entry
        except BadTokenSpec as exc:
            raise SystemExit(f"RISKLOOP_API_BOOTSTRAP_TOKENS: {exc}") from None
    policy = _calendar_and_policy(settings, policy)
    key, old_keys = _secrets(settings)
    owns_redis = redis is None
    client = redis or bounded_redis(settings)
    app = FastAPIOffline(  # /docs served from the package's own files: no CDN, works offline
        title="riskloop clues",
        summary="The clue verification queue: dispatch, sign for, verify, dispose, review.",
        routes=ROUTES,
        lifespan=_lifespan(settings, publish, owns_redis, tick_s),
    )
    places = Places.from_settings(settings)
    app.state.store = ClueStore(client, prefix, policy=policy, calendar=calendar, places=places,
                                pseudonym_key=key, old_pseudonym_keys=old_keys)  # fmt: skip
    app.state.tokens = TokenStore(
        client, prefix, default_days=settings.api_token_days, max_days=settings.api_token_max_days
    )
    app.state.clock = clock
    access_log.install(Masker(key))  # the store's key: the log's pseudonyms are the views'
    replies.install(app)
    openapi.describe(app, places)
    app.add_middleware(BodyLimit, limit=settings.api_max_body_bytes)
    app.add_middleware(InFlightLimit, limit=settings.api_max_in_flight)
    app.add_middleware(RequestTimer)
    app.add_middleware(ResponseHeaders)  # outermost: on the 503s of InFlightLimit as well
    return app


def serve(settings: Settings | None = None, host: str | None = None) -> None:
    """Run the API with uvicorn on ``settings.api_port`` (blocks).

    The interface is ``host``, else ``settings.api_host``, else ``$RISKLOOP_API_HOST``
    (docker-compose sets 0.0.0.0), else loopback.
    """
    settings = settings or Settings.from_env()
    host = host or getattr(settings, "api_host", None) or os.environ.get("RISKLOOP_API_HOST")
    uvicorn.run(create_app(settings), host=host or "127.0.0.1", port=settings.api_port)
