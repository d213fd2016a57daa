"""ClueStore: warnings in, clues out, transitions checked and audited — all in Redis.

Each verb is one Lua script call, so it is atomic; a batch of upserts is pipelined (each
warning atomic, the batch not). Key layout: ``clues.keys``; scripts: ``clues.scripts``.

The store works with a ``redis.asyncio.Redis`` client built with or without
``decode_responses``. It does not count upserts in Prometheus: the caller does, with
``clues.metrics.record_upserts(results)``. Transitions are counted here.
"""

from __future__ import annotations

import base64
import builtins
from collections.abc import Sequence
from typing import Any

import orjson
import redis.asyncio as aioredis

from clues import metrics, scripts
from clues.keys import Keys
from clues.model import (
    ALL,
    STATUSES,
    AuditEntry,
    BadDisposition,
    Clue,
    ClueError,
    ClueNotFound,
    IllegalTransition,
    clue_id,
    iso_ms,
    outcome_of,
    severity_rank,
)
from riskloop.events import Disposition, RiskWarning, stable_id

__all__ = ["ClueStore", "clue_id", "InvalidCursor"]

BATCH = 500
_CONFLICT_RETRIES = 5


class InvalidCursor(ClueError, ValueError):
    """A pagination cursor this store did not hand out."""


def _text(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _pairs(flat: Sequence[Any]) -> dict[str, str]:
    return {_text(flat[i]): _text(flat[i + 1]) for i in range(0, len(flat), 2)}


def _num(v: object) -> str:
    return "" if v is None else repr(v) if isinstance(v, float) else str(v)


def warning_args(prefix: str, w: RiskWarning) -> list[str]:
    """Script arguments for one warning (see ``scripts.UPSERT``)."""
    ident = {
        "rule_id": w.rule_id,
        "rule_version": str(w.rule_version),
        "logic_hash": w.logic_hash,
        "key": w.key,
        "region": w.region,
        "department": w.department,
    }
    content = {
        "title": w.title,
        "stage": w.stage,
        "value": _num(w.value),
        "summary": w.summary,
        "evidence": orjson.dumps(list(w.evidence)).decode(),
        "tags": orjson.dumps(list(w.tags)).decode(),
        "window_start_ms": _num(w.window_start_ms),
        "window_end_ms": _num(w.window_end_ms),
        "last_warning_id": w.id,
    }
    # few arguments: redis-py's per-argument packing, not Lua, bounds the throughput
    return [
        prefix,
        w.id,
        w.fingerprint,
        str(w.ts_ms),
        str(severity_rank(w.severity)),
        w.severity,
        orjson.dumps([x for kv in ident.items() for x in kv]).decode(),
        orjson.dumps([x for kv in content.items() for x in kv]).decode(),
    ]


def encode_cursor(score: float, member: str) -> str:
    raw = f"{score!r}\x1f{member}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        score, member = raw.split("\x1f", 1)
        return float(score), member
    except (ValueError, UnicodeDecodeError):
        raise InvalidCursor(
            f"bad cursor {cursor!r}: pass back the next_cursor of a previous page"
        ) from None


class ClueStore:
    """The clue queue in Redis under a key prefix (default ``rl``)."""

    def __init__(self, redis: aioredis.Redis, prefix: str = "rl") -> None:
        self.redis = redis
        self.prefix = prefix
        self.keys = Keys(prefix)
        self._upsert = redis.register_script(scripts.UPSERT)
        self._claim = redis.register_script(scripts.CLAIM)
        self._dispose = redis.register_script(scripts.DISPOSE)
        self._reap = redis.register_script(scripts.REAP)

    # --- ingest ---------------------------------------------------------------------------

    async def upsert_warnings(self, warnings: Sequence[RiskWarning]) -> list[str]:
        """Merge warnings into clues; one result per warning: new | merged | duplicate."""
        results: list[str] = []
        for start in range(0, len(warnings), BATCH):
            pipe = self.redis.pipeline(transaction=False)
            for w in warnings[start : start + BATCH]:
                await self._upsert(args=warning_args(self.prefix, w), client=pipe)
            results += [_text(r[0]) for r in await pipe.execute()]
        return results

    # --- reads ----------------------------------------------------------------------------

    async def get(self, clue_id: str) -> Clue | None:
        """The clue, or None."""
        h = await self.redis.hgetall(self.keys.clue(clue_id))  # type: ignore[misc]
        return Clue.from_hash({_text(k): _text(v) for k, v in h.items()}) if h else None

    async def audit(self, clue_id: str, limit: int = 1000) -> builtins.list[AuditEntry]:
        """The clue's audit trail, oldest first."""
        rows = await self.redis.xrange(self.keys.clue_audit(clue_id), count=limit)
        return [
            AuditEntry.from_fields(_text(eid), {_text(k): _text(v) for k, v in f.items()})
            for eid, f in rows
        ]

    async def warning_ids(self, clue_id: str) -> builtins.list[str]:
        """The latest warning ids merged into the clue, oldest first (capped)."""
        ids = await self.redis.lrange(self.keys.warnings(clue_id), 0, -1)  # type: ignore[misc]
        return [_text(i) for i in reversed(ids)]

    async def counts_by_status(self) -> dict[str, int]:
        """Number of clues in each status (every status present, zero included)."""
        pipe = self.redis.pipeline(transaction=False)
        for status in STATUSES:
            pipe.zcard(self.keys.queue(status))
        return dict(zip(STATUSES, (int(n) for n in await pipe.execute()), strict=True))

    # --- transitions ----------------------------------------------------------------------

    async def claim(self, clue_id: str, actor: str, lease_s: int = 1800, *, now_ms: int) -> Clue:
        """new -> claimed for ``lease_s``; a claim whose lease ran out can be taken over."""
        if lease_s < 1:
            raise ValueError(f"lease_s={lease_s!r}: a lease lasts at least 1 second")
        reply = await self._claim(
            args=[self.prefix, clue_id, actor, str(now_ms), str(lease_s * 1000)]
        )
        reply = [_text(x) for x in reply]
        if reply[0] != "OK":
            raise _claim_error(clue_id, actor, reply)
        metrics.record_transitions(["expire", "claim"] if reply[1] == "1" else ["claim"])
        return Clue.from_hash(_pairs(reply[2:]))

    async def dispose(
        self, clue_id: str, actor: str, outcome: str, code: str, note: str, now_ms: int
    ) -> Clue:
        """claimed -> disposed by the claim holder; the Disposition goes to the outbox.

        ``outcome`` must agree with ``code`` (``clues.model.DISPOSITION_CODES``); pass ``""``
        to derive it from the code.
        """
        expected = outcome_of(code)
        if outcome and outcome != expected:
            raise BadDisposition(
                f"disposition code {code!r} means outcome {expected!r}, not {outcome!r}"
            )
        for _ in range(_CONFLICT_RETRIES):
            clue = await self.get(clue_id)
            if clue is None:
                raise ClueNotFound(clue_id)
            disposition = await self._disposition(clue, actor, expected, code, now_ms)
            reply = await self._dispose(
                args=[self.prefix, clue_id, actor, str(now_ms), str(clue.version), code]
                + [expected, note, disposition.to_json().decode()]
            )
            reply = [_text(x) for x in reply]
            if reply[0] == "OK":
                metrics.record_transitions(["dispose"])
                return Clue.from_hash(_pairs(reply[1:]))
            if reply[1] != "CONFLICT":  # anything but a concurrent change is final
                raise _dispose_error(clue_id, actor, reply)
        raise IllegalTransition(f"clue {clue_id} keeps changing; try again", None)

    async def _disposition(
        self, clue: Clue, actor: str, outcome: str, code: str, now_ms: int
    ) -> Disposition:
        return Disposition(
            id=stable_id(clue.id, clue.version + 1, prefix="disp-"),
            clue_id=clue.id,
            rule_id=clue.rule_id,
            key=clue.key,
            outcome=outcome,
            code=code,
            actor=actor,
            ts_ms=now_ms,
            warning_ids=tuple(await self.warning_ids(clue.id)),
        )

    async def expire_leases(self, now_ms: int, limit: int = 500) -> builtins.list[str]:
        """Return every clue whose lease ran out by ``now_ms`` to the queue; their ids."""
        ids = [_text(i) for i in await self._reap(args=[self.prefix, str(now_ms), str(limit)])]
        metrics.record_transitions(["expire"] * len(ids))
        return ids

    # --- listing (last: the method name shadows the builtin in the class body) -----------

    async def list(
        self,
        status: str | None = None,
        rule_id: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> tuple[builtins.list[Clue], str | None]:
        """One page of clues in a status (or all) and rule, in the status's display order.

        Returns the page and the cursor of the next page (None on the last page).
        """
        if limit < 1:
            raise ValueError(f"limit={limit!r}: ask for at least 1 clue")
        if status is not None and status not in STATUSES:
            raise ValueError(f"unknown status {status!r}: use one of {', '.join(STATUSES)}")
        key = self.keys.queue(status or ALL, rule_id)
        rows = await self._page(key, limit, cursor)
        page = rows[:limit]
        pipe = self.redis.pipeline(transaction=False)
        for member, _ in page:
            pipe.hgetall(self.keys.clue(member))
        clues = [
            Clue.from_hash({_text(k): _text(v) for k, v in h.items()})
            for h in await pipe.execute()
            if h
        ]
        nxt = encode_cursor(page[-1][1], page[-1][0]) if len(rows) > limit else None
        return clues, nxt

    async def _page(
        self, key: str, limit: int, cursor: str | None
    ) -> builtins.list[tuple[str, float]]:
        """Up to limit+1 (member, score) rows after the cursor, ties broken by member."""
        if cursor is None:
            rows = await self.redis.zrange(key, 0, limit, withscores=True)
            return [(_text(m), float(s)) for m, s in rows]
        score, member = decode_cursor(cursor)
        ties = await self.redis.zcount(key, score, score)
        rows = await self.redis.zrange(
            key, score, "+inf", byscore=True, offset=0, num=limit + 1 + ties, withscores=True
        )
        out = [(_text(m), float(s)) for m, s in rows]
        return [(m, s) for m, s in out if s > score or m > member][: limit + 1]


def _claim_error(clue_id: str, actor: str, reply: Sequence[str]) -> ClueError:
    if reply[1] == "NOT_FOUND":
        return ClueNotFound(clue_id)
    status, holder, lease = reply[2], reply[3], reply[4]
    if holder:
        who = "you" if holder == actor else holder
        until = f" until {iso_ms(int(lease))}" if lease else ""
        return IllegalTransition(
            f"cannot claim clue {clue_id}: it is already claimed by {who}{until}", status
        )
    return IllegalTransition(
        f"cannot claim clue {clue_id}: it is {status}; only new clues can be claimed", status
    )


def _dispose_error(clue_id: str, actor: str, reply: Sequence[str]) -> ClueError:
    code, status = reply[1], (reply[2] if len(reply) > 2 else None)
    if code == "NOT_FOUND":
        return ClueNotFound(clue_id)
    if code == "BAD_STATE" and reply[3]:
        msg = f"clue {clue_id} is already {status} ({reply[4]} by {reply[3]})"
    elif code == "BAD_STATE":
        msg = f"cannot dispose clue {clue_id}: it is {status}; claim it first"
    elif code == "NOT_HOLDER":
        msg = f"cannot dispose clue {clue_id}: it is claimed by {reply[3]}, not {actor}"
    else:  # LEASE_EXPIRED
        msg = (
            f"cannot dispose clue {clue_id}: your claim expired at {iso_ms(int(reply[3]))};"
            " claim it again"
        )
    return IllegalTransition(msg, status)
