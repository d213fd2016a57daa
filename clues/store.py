"""ClueStore: warnings in, clues out, every step checked, audited and atomic — all in Redis.

Each step is one Lua script call, so it is atomic. A batch of upserts is one round trip: the
warnings of one fingerprint become one step, the steps go in chunks of ``CHUNK`` warnings,
one script call per chunk (each chunk atomic, the batch not), in ``LANES`` pipelines sent at
once (``clues.ingest``); a warning already applied is a no-op, so a batch re-sent after a
failure changes nothing. Key layout: ``clues.keys``; scripts: ``clues.scripts`` (the
``.lua`` files in ``clues/lua/``); argument checks and deadlines: ``clues.actions``.

A transition reads the clue, checks the caller's scope and role, prepares the arguments and
runs the script with the version it read: if the clue changed in between (a merged warning,
another inspector) the script refuses and the store tries again with a fresh read, unless the
caller named the version it expected (HTTP ``If-Match``): then the caller hears of it. A
claim, comment or release is one round trip (the script reads, checks and writes); the
actions of ``clues.actions.READS_CLUE`` read first, so two. The script calls of concurrent
transitions made in one turn of the event loop share one pipeline (``clues.batch``), so
Redis serves them in one turn of its own and syncs its append-only file once for them all.

The store works with a ``redis.asyncio.Redis`` client built with or without
``decode_responses``. It does not count upserts in Prometheus: the caller does, with
``clues.metrics.record_upserts(results)``. Transitions are counted here.
"""

from __future__ import annotations

import asyncio
import builtins
import secrets
from collections.abc import Mapping, Sequence
from typing import Any, cast

import orjson
import redis.asyncio as aioredis

from clues import actions, ingest, metrics, scripts
from clues.access import Principal
from clues.batch import ClueReads, Function, Script, ScriptBatcher
from clues.errors import error_from_reply
from clues.keys import Keys
from clues.listing import (
    MAX_SCAN,
    InvalidCursor,
    ListQuery,
    decode_cursor,
    encode_cursor,
    plan,
)
from clues.model import (
    STATUSES,
    AuditEntry,
    BadDisposition,
    Clue,
    ClueNotFound,
    Conflict,
    Forbidden,
    clue_id,
    is_clue_id,
    may,
)
from clues.places import Places
from clues.privacy import Masker
from clues.workdays import DeadlinePolicy, WorkCalendar, default_policy
from envelope.events import Disposition, RiskWarning, stable_id
from envelope.pseudonym import SEALED

__all__ = ["ClueStore", "clue_id", "InvalidCursor", "ListQuery"]

CHUNK = 200  # warnings per upsert script call: a few ms of Redis time, never long
LANES = 2  # upsert pipelines in flight at once: Redis works on one while the next is built
_CONFLICT_RETRIES = 8


def _text(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _scope(who: Principal) -> str:
    """The caller's scope as the transition script checks it."""
    scope: dict[str, Any] = {}
    if who.departments is not None:
        scope["departments"] = {d: True for d in who.departments} or {"\x00none": True}
    if who.regions is not None:
        scope["regions"] = list(who.regions)
    return orjson.dumps(scope).decode()


class ClueStore:
    """The clue queue in Redis under a key prefix (default ``rl``)."""

    def __init__(
        self,
        redis: aioredis.Redis,
        prefix: str = "rl",
        *,
        policy: DeadlinePolicy | None = None,
        calendar: WorkCalendar | None = None,
        places: Places | None = None,
        pseudonym_key: bytes | None = None,
        old_pseudonym_keys: Sequence[bytes] = (),
        batch_transitions: bool = True,
        functions: bool = True,
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.keys = Keys(prefix)
        self.policy = policy or default_policy()
        self.calendar = calendar or WorkCalendar()
        self.places = places or Places()

        # FCALLs of the clue library; functions=False: EVALSHA of the plain scripts (the
        # benchmark's baseline)
        def lua(name: str) -> Function:
            text = getattr(scripts, name.upper())
            return Function(redis, name) if functions else Script(redis, text)

        self._upsert = lua("upsert")
        # transitions of concurrent callers share a pipeline (clues.batch); False: one
        # round trip each, as before (the benchmark's baseline)
        self.transition_calls = ScriptBatcher(lua("transition"))
        self.batch_transitions = batch_transitions
        # the reads before a step that needs the clue: concurrent callers' in one pipeline
        self.read_calls = ScriptBatcher(ClueReads(redis))
        self._reap, self._sla, self._list = lua("reap"), lua("sla_step"), lua("list")
        # the key of pseudonyms comes from the caller (settings), never from Redis
        # (older ones still open what they sealed)
        self._masker = Masker(pseudonym_key or secrets.token_bytes(32), old_pseudonym_keys)

    # --- ingest ---------------------------------------------------------------------------

    async def upsert_warnings(
        self, warnings: Sequence[RiskWarning], chunk: int = CHUNK, lanes: int = LANES
    ) -> list[str]:
        """Merge warnings into clues; one result per warning, in order: new | merged |
        duplicate. The warnings of one fingerprint are one step (``clues.ingest``); at most
        ``chunk`` warnings per script call, ``lanes`` pipelines at once."""
        results = [""] * len(warnings)
        parts = ingest.lanes_of(warnings, chunk, lanes)
        # every lane ends before a failure is raised: a retry never runs beside a lane
        replies = await asyncio.gather(
            *(self._send_lane(warnings, p, chunk) for p in parts), return_exceptions=True
        )
        for reply in replies:
            if isinstance(reply, BaseException):
                raise reply
        for calls, lane_replies in cast(list[tuple[list[ingest.Call], list[Any]]], replies):
            for call, reply in zip(calls, lane_replies, strict=True):
                for slot, r in zip(call.slots, reply, strict=True):
                    results[slot] = _text(r)
        return results

    async def _send_lane(
        self, warnings: Sequence[RiskWarning], lane: ingest.Lane, chunk: int
    ) -> tuple[builtins.list[ingest.Call], builtins.list[Any]]:
        """One lane's calls, all in one round trip; where Redis lost the library (a restart,
        FUNCTION FLUSH) it is loaded again and the refused calls sent again (``clues.batch``)."""
        calls = lane.calls(warnings, chunk)
        replies = await self._upsert.many([call.args(self.prefix) for call in calls])
        for reply in replies:
            if isinstance(reply, BaseException):
                raise reply
        return calls, replies

    # --- reads ----------------------------------------------------------------------------

    async def get(self, clue_id: str) -> Clue | None:
        """The clue, or None (also for a string that is not a clue id)."""
        if not is_clue_id(clue_id):
            return None
        h = await self.redis.hgetall(self.keys.clue(clue_id))  # type: ignore[misc]
        return Clue.from_hash({_text(k): _text(v) for k, v in h.items()}) if h else None

    async def get_for(self, clue_id: str, who: Principal) -> Clue:
        """The clue if ``who`` may see it: ClueNotFound or Forbidden otherwise."""
        clue = await self.get(clue_id)
        if clue is None:
            raise ClueNotFound(clue_id)
        if not who.covers(clue.department, clue.region):
            raise Forbidden(f"clue {clue_id} is outside {who.name}'s departments and regions")
        return clue

    async def audit(self, clue_id: str, limit: int = 1000) -> builtins.list[AuditEntry]:
        """The clue's audit trail, oldest first."""
        if not is_clue_id(clue_id):
            return []
        rows = await self.redis.xrange(self.keys.clue_audit(clue_id), count=limit)
        return [
            AuditEntry.from_fields(_text(eid), {_text(k): _text(v) for k, v in f.items()})
            for eid, f in rows
        ]

    async def warning_ids(self, clue_id: str) -> builtins.list[str]:
        """The latest warning ids merged into the clue, oldest first (capped)."""
        if not is_clue_id(clue_id):
            return []
        ids = await self.redis.lrange(self.keys.warnings(clue_id), 0, -1)  # type: ignore[misc]
        return [_text(i) for i in reversed(ids)]

    async def counts_by_status(self) -> dict[str, int]:
        """Number of clues in each status (every status present, zero included)."""
        pipe = self.redis.pipeline(transaction=False)
        for status in STATUSES:
            pipe.zcard(self.keys.queue(status))
        return dict(zip(STATUSES, (int(n) for n in await pipe.execute()), strict=True))

    async def stats(self) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
        """The durable counters: ``rl:stats``, ``rl:stats:backlog``, ``rl:stats:dispositions``."""
        pipe = self.redis.pipeline(transaction=False)
        for k in (self.keys.stats, self.keys.backlog, self.keys.dispositions):
            pipe.hgetall(k)
        a, b, c = [{_text(k): int(v) for k, v in h.items()} for h in await pipe.execute()]
        return a, b, c

    async def masker(self) -> Masker:
        """The pseudonymiser under the store's key (given, else made for this store)."""
        return self._masker

    # --- transitions ----------------------------------------------------------------------

    async def transition(
        self,
        clue_id: str,
        action: str,
        who: Principal,
        now_ms: int,
        args: Mapping[str, Any] | None = None,
        expected_version: int | None = None,
    ) -> Clue:
        """Perform ``action`` on a clue as ``who``; the clue after it.

        Raises ClueNotFound, Forbidden (role or scope), Conflict (``expected_version`` is
        stale), IllegalTransition (not from this status, not the holder, a guard) or
        BadDisposition (bad arguments).
        """
        if not may(action, who.role):
            raise Forbidden(f"a {who.role} may not {action.replace('_', ' ')} clues")
        if not is_clue_id(clue_id):
            raise ClueNotFound(clue_id)
        reads = action in actions.READS_CLUE or action == "merge"
        scope = _scope(who)
        for _ in range(_CONFLICT_RETRIES):
            clue, wids = await self._read(clue_id, who, action) if reads else (None, None)
            version = expected_version
            if version is None and clue is not None:
                version = clue.version
            prepared, disposition = await self._prepare(action, clue, who, now_ms, args or {}, wids)
            argv = [self.prefix, clue_id, action, who.name, who.role, str(now_ms)]
            argv += ["" if version is None else str(version), orjson.dumps(prepared).decode()]
            argv += [disposition, scope]
            if self.batch_transitions:
                reply = await self.transition_calls(argv)
            else:
                reply = await self.transition_calls.function(argv)
            if not all(isinstance(x, str) for x in reply):  # a client without decoding
                reply = [_text(x) for x in reply]
            if reply[0] == "OK":
                fields = iter(reply[2:])
                after = Clue.from_hash(dict(zip(fields, fields, strict=True)))
                metrics.record_transition(action, after, expired=reply[1] == "1")
                return after
            if reply[1] != "CONFLICT" or expected_version is not None:
                raise error_from_reply(clue_id, action, who.name, reply)
        raise Conflict(f"clue {clue_id} keeps changing; try again", None)

    async def _prepare(
        self,
        action: str,
        clue: Clue | None,
        who: Principal,
        now_ms: int,
        args: Mapping[str, Any],
        warning_ids: builtins.list[str] | None = None,
    ) -> tuple[dict[str, str], str]:
        if action == "merge":
            assert clue is not None
            return await self._prepare_merge(clue, who, args), ""
        ctx = actions.Context(clue, who, now_ms, self.policy, self.calendar, self.places)
        prepared = actions.prepare(action, ctx, args)
        disposition = ""
        if action in ("dispose", "dismiss"):
            assert clue is not None
            d = self._disposition(clue, who.name, prepared, now_ms, warning_ids or [])
            disposition = d.to_json().decode()
        return prepared, disposition

    async def _prepare_merge(
        self, clue: Clue, who: Principal, args: Mapping[str, Any]
    ) -> dict[str, str]:
        into = args.get("into")
        if not isinstance(into, str) or not into:
            raise BadDisposition("into is required: the id of the clue to merge into")
        target = await self.get_for(into, who)
        return {"into": into, "into_department": target.department, "reason": f"into {into}"}

    def _disposition(
        self,
        clue: Clue,
        actor: str,
        prepared: Mapping[str, str],
        now_ms: int,
        warning_ids: builtins.list[str],
    ) -> Disposition:
        return Disposition(
            id=stable_id(clue.id, clue.version + 1, prefix="disp-"),
            clue_id=clue.id,
            rule_id=clue.rule_id,
            key=clue.key,
            outcome=prepared["outcome"],
            code=prepared["code"],
            actor=actor,
            ts_ms=now_ms,
            warning_ids=tuple(warning_ids),
            sealed=str((clue.details or {}).get(SEALED) or ""),  # the worker opens its key
        )

    async def _read(
        self, clue_id: str, who: Principal, action: str
    ) -> tuple[Clue, builtins.list[str] | None]:
        """The clue as ``get_for`` reads it and, for a verdict, its warning ids (oldest
        first), in one round trip shared with the reads of concurrent transitions."""
        verdict = action in ("dispose", "dismiss")
        wk = self.keys.warnings(clue_id) if verdict else ""
        h, ids = await self.read_calls([self.keys.clue(clue_id), wk])
        for reply in (h, ids):
            if isinstance(reply, BaseException):
                raise reply
        if not h:
            raise ClueNotFound(clue_id)
        clue = Clue.from_hash({_text(k): _text(v) for k, v in h.items()})
        if not who.covers(clue.department, clue.region):
            raise Forbidden(f"clue {clue_id} is outside {who.name}'s departments and regions")
        return clue, None if ids is None else [_text(i) for i in reversed(ids)]

    async def reveal(self, clue_id: str, who: Principal, now_ms: int) -> Clue:
        """The clue with personal identifiers, for an authorised caller; the view is audited.

        Forbidden (HTTP 403, nothing written) for a caller outside the clue's scope or, below
        the lead, supervisor and admin roles, for anyone but the inspector holding it.
        """
        return await self.transition(clue_id, "reveal", who, now_ms)

    async def expire_leases(self, now_ms: int, limit: int = 500) -> builtins.list[str]:
        """Return every clue whose lease ran out by ``now_ms`` to its department's queue."""
        ids = [_text(i) for i in await self._reap([self.prefix, str(now_ms), str(limit)])]
        metrics.record_transitions(["expire"] * len(ids))
        return ids

    async def apply_sla(self, now_ms: int, decisions: Sequence[Mapping[str, str]]) -> int:
        """Apply the deadline ticker's decisions (see ``clues.sla``); how many applied."""
        if not decisions:
            return 0
        payload = orjson.dumps(list(decisions)).decode()
        return int(await self._sla([self.prefix, str(now_ms), payload]))

    # --- listing (last: the method name shadows the builtin in the class body) -----------

    async def list(
        self,
        status: str | None = None,
        rule_id: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        *,
        query: ListQuery | None = None,
        who: Principal | None = None,
    ) -> tuple[builtins.list[Clue], str | None]:
        """One page of clues matching a query, in its sort order, and the next page's cursor.

        ``status`` and ``rule_id`` are shorthands for a query with just those filters;
        ``who`` scopes the page to a caller's departments and regions (None: everything).
        The cursor is None on the last page; a page can be short before the last one.
        """
        if limit < 1:
            raise ValueError(f"limit={limit!r}: ask for at least 1 clue")
        q = query or ListQuery(status=(status,) if status else (), rule_id=rule_id)
        p = plan(self.keys, q.validate(), who)
        score, member = decode_cursor(cursor) if cursor else ("0", "")
        reply = await self._list(
            [self.prefix, p.key, "1" if p.reverse else "0", score, member, str(limit)]
            + [str(max(MAX_SCAN, limit * 4)), orjson.dumps(p.filters).decode()]
        )
        reply = [_text(x) for x in reply]
        pipe = self.redis.pipeline(transaction=False)
        for member_id in reply[3:]:
            pipe.hgetall(self.keys.clue(member_id))
        clues = [
            Clue.from_hash({_text(k): _text(v) for k, v in h.items()})
            for h in await pipe.execute()
            if h
        ]
        return clues, encode_cursor(reply[1], reply[2]) if reply[0] == "1" else None
