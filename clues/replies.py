"""The clue API's error replies: one body shape for every 4xx and 5xx, and what raises them.

Every error answers ``{"detail": "<what was wrong and what to do>"}`` (a 409 adds the clue's
``status``): the store's typed errors, FastAPI's own ``HTTPException`` and request validation
alike, so the OpenAPI document describes one ``Problem`` schema and clients read one field.
A Redis that does not answer (down, restarting, loading, or every pooled connection busy) is
a 503 with ``Retry-After``, never a 500.

>>> validation_message([{"loc": ("path", "clue_id"), "msg": "String should match pattern"}])
'path clue_id: String should match pattern'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from clues.model import ClueError, ClueNotFound, Forbidden, IllegalTransition
from envelope.redact import cut

RETRY_AFTER_S = 1
DETAIL_CHARS = 500  # a reply echoes at most this much of what was wrong (a 10 KB bad value)


def short(text: str) -> str:
    """A reply's detail, cut to ``DETAIL_CHARS`` with its full length noted."""
    return cut(text, DETAIL_CHARS)


class Problem(BaseModel):
    """The body of every error reply."""

    detail: str = Field(description="what was wrong and what to do about it")
    status: str | None = Field(default=None, description="409 only: the clue's status now")


def _doc(description: str) -> dict[str, Any]:
    return {"model": Problem, "description": description}


RESPONSES: dict[int | str, dict[str, Any]] = {
    401: _doc("no token, or an unknown, expired or revoked one"),
    403: _doc("the caller's role or scope does not allow it; nothing changed"),
    404: _doc("no such clue (or token)"),
    409: _doc("not allowed in the clue's status, or the clue changed (If-Match)"),
    422: _doc("a parameter or body that cannot be used; the detail names it"),
    503: {
        **_doc("Redis does not answer or the API is at capacity; retry after Retry-After"),
        "headers": {"Retry-After": {"description": "seconds", "schema": {"type": "integer"}}},
    },
}


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The documented error replies of a route that really answers ``codes``."""
    return {c: RESPONSES[c] for c in codes}


def unavailable(detail: str, **extra: str) -> JSONResponse:
    """A 503 that tells the caller when to try again."""
    return JSONResponse(
        {**extra, "detail": detail}, status_code=503, headers={"Retry-After": str(RETRY_AFTER_S)}
    )


async def clue_error(request: Request, exc: Exception) -> JSONResponse:
    detail = short(str(exc))
    if isinstance(exc, ClueNotFound):
        return JSONResponse({"detail": detail}, status_code=404)
    if isinstance(exc, Forbidden):
        return JSONResponse({"detail": detail}, status_code=403)
    if isinstance(exc, IllegalTransition):
        return JSONResponse({"detail": detail, "status": exc.status}, status_code=409)
    return JSONResponse({"detail": detail}, status_code=422)  # bad args, cursor, query


def validation_message(errors: Iterable[Mapping[str, Any]]) -> str:
    """FastAPI's validation errors as one sentence per field (``body days: …``)."""
    parts = []
    for e in errors:
        loc = " ".join(str(x) for x in e.get("loc", ()))
        parts.append(f"{loc}: {e.get('msg', 'invalid')}" if loc else str(e.get("msg")))
    return "; ".join(parts) or "invalid request"


async def request_invalid(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"detail": short(validation_message(exc.errors()))}, status_code=422)


async def redis_unavailable(request: Request, exc: Exception) -> JSONResponse:
    return unavailable(f"the clue store (Redis) does not answer: {type(exc).__name__}")


def install(app: FastAPI) -> None:
    """Register the handlers that turn errors into these replies."""
    app.add_exception_handler(ClueError, clue_error)
    app.add_exception_handler(RequestValidationError, request_invalid)
    app.add_exception_handler(RedisConnectionError, redis_unavailable)
    app.add_exception_handler(RedisTimeoutError, redis_unavailable)
