"""API tokens in Redis, stored hashed: create, look up, list, revoke, rotate, bootstrap.

A token is shown once, when it is created; Redis keeps only its SHA-256 with the
principal it stands for (``rl:token:{sha256}``) and the set of hashes (``rl:tokens``).

Every token has a life: ``expires_ms`` (a creator asks for ``days``, at most
``api_token_max_days``; default ``api_token_days``); past it the token is refused like an
unknown one. A revoked token's hash goes to ``rl:tokens:revoked``, so a bootstrap token
(``RISKLOOP_API_BOOTSTRAP_TOKENS``) revoked once is not stored again when the API restarts;
a bootstrap token already stored keeps its record (and its expiry) across restarts.
Rotation makes a new token for the same principal and lets the old one live ``grace_s``
more, so the clients using it can switch without a moment when neither works.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
import redis.asyncio as aioredis

from clues.access import Principal, make_principal, new_token, parse_bootstrap, token_hash
from clues.keys import Keys

DAY_MS = 86_400_000
DEFAULT_DAYS, MAX_DAYS = 90, 365
_PRINCIPAL = ("name", "role", "departments", "regions")


def wall_ms() -> int:
    """Token bookkeeping time (creation, expiry) in epoch ms."""
    return int(time.time() * 1000)


def _t(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


class TokenStore:
    """Tokens under a key prefix (the clue store's)."""

    def __init__(
        self,
        redis: aioredis.Redis,
        prefix: str = "rl",
        *,
        default_days: int = DEFAULT_DAYS,
        max_days: int = MAX_DAYS,
    ) -> None:
        self.redis = redis
        self.keys = Keys(prefix)
        self.default_days, self.max_days = default_days, max_days

    def _fields(self, who: Principal, created_by: str, now_ms: int, days: int) -> dict[str, str]:
        return {
            "name": who.name,
            "role": who.role,
            "departments": orjson.dumps(who.to_dict()["departments"]).decode(),
            "regions": orjson.dumps(who.to_dict()["regions"]).decode(),
            "created_by": created_by,
            "created_ms": str(now_ms),
            "expires_ms": str(now_ms + days * DAY_MS),
        }

    def days(self, days: int | None) -> int:
        """The lifetime asked for, checked against the maximum (ValueError naming it)."""
        days = self.default_days if days is None else days
        if not 1 <= days <= self.max_days:
            raise ValueError(f"days={days}: a token lives 1 to {self.max_days} days")
        return days

    async def add(
        self,
        token: str,
        who: Principal,
        created_by: str = "bootstrap",
        *,
        now_ms: int | None = None,
        days: int | None = None,
    ) -> str:
        """Store ``token`` (hashed) for ``who``; returns the hash (the token's public id)."""
        digest, now_ms = token_hash(token), wall_ms() if now_ms is None else now_ms
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(
            self.keys.token(digest), mapping=self._fields(who, created_by, now_ms, self.days(days))
        )
        pipe.sadd(self.keys.tokens, digest)
        pipe.srem(self.keys.tokens_revoked, digest)
        await pipe.execute()
        return digest

    async def create(
        self, who: Principal, created_by: str, *, now_ms: int | None = None, days: int | None = None
    ) -> str:
        """A new random token for ``who``; the only time it is seen in clear."""
        token = new_token()
        await self.add(token, who, created_by, now_ms=now_ms, days=days)
        return token

    async def lookup(self, token: str, now_ms: int | None = None) -> Principal | None:
        """The principal a token stands for, or None (unknown, revoked or expired)."""
        now_ms = wall_ms() if now_ms is None else now_ms
        h = await self.redis.hgetall(self.keys.token(token_hash(token)))  # type: ignore[misc]
        if not h:
            return None
        f = {_t(k): _t(v) for k, v in h.items()}
        if f.get("expires_ms") and int(f["expires_ms"]) <= now_ms:
            return None
        return make_principal(
            f["name"], f["role"], orjson.loads(f["departments"]), orjson.loads(f["regions"])
        )

    async def revoke(self, digest: str) -> bool:
        """Delete a token by its hash, for good (a bootstrap spec cannot bring it back)."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.delete(self.keys.token(digest))
        pipe.srem(self.keys.tokens, digest)
        pipe.sadd(self.keys.tokens_revoked, digest)
        deleted, *_ = await pipe.execute()
        return bool(deleted)

    async def revoke_name(self, name: str) -> int:
        """Revoke every token of the principal ``name``; how many."""
        n = 0
        for row in await self.all():
            if row["name"] == name:
                n += await self.revoke(row["id"])
        return n

    async def rotate(
        self, digest: str, by: str, *, now_ms: int, grace_s: int, days: int | None = None
    ) -> tuple[str, dict[str, Any]] | None:
        """A new token for the principal of ``digest``; the old one expires ``grace_s`` from
        now (or sooner, if it would anyway). None when there is no such token."""
        row = next((r for r in await self.all() if r["id"] == digest), None)
        if row is None:
            return None
        who = make_principal(row["name"], row["role"], row["departments"], row["regions"])
        token = await self.create(who, by, now_ms=now_ms, days=days)
        old_expiry = min(int(row.get("expires_ms") or now_ms + grace_s * 1000),
                         now_ms + grace_s * 1000)  # fmt: skip
        await self.redis.hset(self.keys.token(digest), "expires_ms", str(old_expiry))  # type: ignore[misc]
        return token, {**row, "expires_ms": str(old_expiry)}

    async def all(self) -> list[dict[str, Any]]:
        """Every token's hash, principal and expiry (never the token itself)."""
        out = []
        for digest in sorted(_t(d) for d in await self.redis.smembers(self.keys.tokens)):  # type: ignore[misc]
            h = await self.redis.hgetall(self.keys.token(digest))  # type: ignore[misc]
            if h:
                f = {_t(k): _t(v) for k, v in h.items()}
                out.append({"id": digest, **f, "departments": orjson.loads(f["departments"]),
                            "regions": orjson.loads(f["regions"])})  # fmt: skip
        return out

    async def bootstrap(self, spec: str, now_ms: int) -> int:
        """Store the tokens of a bootstrap spec (see ``clues.access``) that are neither stored
        already nor revoked; how many were stored."""
        stored = 0
        for token, who in parse_bootstrap(spec):
            digest = token_hash(token)
            if await self.redis.sismember(self.keys.tokens_revoked, digest):  # type: ignore[misc]
                continue
            key = self.keys.token(digest)
            if await self.redis.exists(key):  # keeps its expiry; the spec's principal applies
                fields = self._fields(who, "bootstrap", 0, 1)
                await self.redis.hset(key, mapping={k: fields[k] for k in _PRINCIPAL})  # type: ignore[misc]
                continue
            await self.add(token, who, now_ms=now_ms)
            stored += 1
        return stored
