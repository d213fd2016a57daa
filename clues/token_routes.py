"""The admin's token endpoints: create (with a lifetime), list, revoke by id or by name, rotate.

Only an admin manages tokens (403 otherwise). A token is shown once, in the reply that made
it; lists show its id (the SHA-256), principal, creator and ``expires_ms``. Rotation answers
a new token for the same principal and keeps the old one working ``grace_s`` more, so the
clients using it switch over without an outage. Revocation is for good, bootstrap tokens
included (``clues.tokens``).
"""

from typing import Annotated, Any

from fastapi import HTTPException, Path, Query, Request
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from clues import bodies
from clues.access import Principal, make_principal, token_hash
from clues.model import ADMIN
from clues.replies import responses
from clues.routes import Who, _now, _store
from clues.tokens import TokenStore

TokenId = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$", description="the token's SHA-256")]


def _tokens(request: Request, who: Principal) -> TokenStore:
    if who.role != ADMIN:
        raise HTTPException(403, "only an admin manages tokens")
    tokens: TokenStore = request.app.state.tokens
    return tokens


async def create_token(request: Request, body: bodies.TokenBody, who: Who) -> dict[str, str]:
    """Create a token (admin); the token is in this reply only, Redis keeps its hash."""
    tokens = _tokens(request, who)
    try:
        p = make_principal(body.name, body.role, body.departments, body.regions)
        days = tokens.days(body.days)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    _store(request).places.scope(body.departments, body.regions)  # 422 for an unknown one
    now = _now(request)
    token = await tokens.create(p, created_by=who.name, now_ms=now, days=days)
    principal = {k: str(v) for k, v in p.to_dict().items()}
    return {"token": token, "id": token_hash(token), **principal,
            "expires_ms": str(now + days * 86_400_000)}  # fmt: skip


async def list_tokens(
    request: Request,
    who: Who,
    name: Annotated[str | None, Query(max_length=64, description="only this principal's")] = None,
) -> list[dict[str, Any]]:
    """Every token's id (its hash), principal and expiry (admin)."""
    rows = await _tokens(request, who).all()
    return [r for r in rows if name is None or r["name"] == name]


async def revoke_token(request: Request, who: Who, token_id: TokenId) -> dict[str, bool]:
    """Revoke a token by its id (admin), for good."""
    if not await _tokens(request, who).revoke(token_id):
        raise HTTPException(404, f"no token with id {token_id}")
    return {"revoked": True}


async def revoke_by_name(
    request: Request,
    who: Who,
    name: Annotated[str, Query(min_length=1, max_length=64, description="principal name")],
) -> dict[str, int]:
    """Revoke every token of one principal (admin): someone left, or a token leaked."""
    n = await _tokens(request, who).revoke_name(name)
    if not n:
        raise HTTPException(404, f"no token of {name!r}")
    return {"revoked": n}


async def rotate_token(
    request: Request, who: Who, token_id: TokenId, body: bodies.RotateBody | None = None
) -> dict[str, str]:
    """A new token for the same principal; the old one works ``grace_s`` more (admin)."""
    tokens, body = _tokens(request, who), body or bodies.RotateBody()
    try:
        days = tokens.days(body.days)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    got = await tokens.rotate(token_id, who.name, now_ms=_now(request), grace_s=body.grace_s,
                              days=days)  # fmt: skip
    if got is None:
        raise HTTPException(404, f"no token with id {token_id}")
    token, old = got
    return {"token": token, "id": token_hash(token), "name": old["name"], "role": old["role"],
            "replaces": token_id, "old_expires_ms": old["expires_ms"]}  # fmt: skip


_ADMIN = responses(401, 403, 422, 503)
_ONE = responses(401, 403, 404, 422, 503)
ROUTES: list[BaseRoute] = [
    APIRoute("/admin/tokens", create_token, methods=["POST"], tags=["access"], responses=_ADMIN),
    APIRoute("/admin/tokens", list_tokens, methods=["GET"], tags=["access"], responses=_ADMIN),
    APIRoute("/admin/tokens", revoke_by_name, methods=["DELETE"], tags=["access"], responses=_ONE),
    APIRoute(
        "/admin/tokens/{token_id}",
        revoke_token,
        methods=["DELETE"],
        tags=["access"],
        responses=_ONE,
    ),
    APIRoute(
        "/admin/tokens/{token_id}/rotate",
        rotate_token,
        methods=["POST"],
        tags=["access"],
        responses=_ONE,
    ),
]
