"""API tokens in Redis, stored hashed: create, look up, list, revoke, bootstrap.

A token is shown once, when it is created; Redis keeps only its SHA-256 with the
principal it stands for (``rl:token:{sha256}``) and the set of hashes (``rl:tokens``).
"""

from __future__ import annotations

import time
from typing import Any

import orjson
import redis.asyncio as aioredis

from clues.access import Principal, make_principal, new_token, parse_bootstrap, token_hash
from clues.keys import Keys


def _t(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


class TokenStore:
    """Tokens under a key prefix (the clue store's)."""

    def __init__(self, redis: aioredis.Redis, prefix: str = "rl") -> None:
        self.redis = redis
        self.keys = Keys(prefix)

    async def add(self, token: str, who: Principal, created_by: str = "bootstrap") -> str:
        """Store ``token`` (hashed) for ``who``; returns the hash (the token's public id)."""
        digest = token_hash(token)
        fields = {
            "name": who.name,
            "role": who.role,
            "departments": orjson.dumps(who.to_dict()["departments"]).decode(),
            "regions": orjson.dumps(who.to_dict()["regions"]).decode(),
            "created_by": created_by,
            "created_ms": str(int(time.time() * 1000)),
        }
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(self.keys.token(digest), mapping=fields)
        pipe.sadd(self.keys.tokens, digest)
        await pipe.execute()
        return digest

    async def create(self, who: Principal, created_by: str) -> str:
        """A new random token for ``who``; the only time it is seen in clear."""
        token = new_token()
        await self.add(token, who, created_by)
        return token

    async def lookup(self, token: str) -> Principal | None:
        """The principal a token stands for, or None."""
        h = await self.redis.hgetall(self.keys.token(token_hash(token)))  # type: ignore[misc]
        if not h:
            return None
        f = {_t(k): _t(v) for k, v in h.items()}
        return make_principal(
            f["name"], f["role"], orjson.loads(f["departments"]), orjson.loads(f["regions"])
        )

    async def revoke(self, digest: str) -> bool:
        """Delete a token by its hash; False if there was none."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.delete(self.keys.token(digest))
        pipe.srem(self.keys.tokens, digest)
        deleted, _ = await pipe.execute()
        return bool(deleted)

    async def all(self) -> list[dict[str, Any]]:
        """Every token's hash and principal (never the token itself)."""
        out = []
        for digest in sorted(_t(d) for d in await self.redis.smembers(self.keys.tokens)):  # type: ignore[misc]
            h = await self.redis.hgetall(self.keys.token(digest))  # type: ignore[misc]
            if h:
                f = {_t(k): _t(v) for k, v in h.items()}
                out.append({"id": digest, **f, "departments": orjson.loads(f["departments"]),
                            "regions": orjson.loads(f["regions"])})  # fmt: skip
        return out

    async def bootstrap(self, spec: str) -> int:
        """Store every token of a bootstrap spec (see ``clues.access``); how many."""
        pairs = parse_bootstrap(spec)
        for token, who in pairs:
            await self.add(token, who)
        return len(pairs)
