"""The deadline ticker: advances supervision colours when nothing else happens.

Clues whose colour may change wait in ``rl:sla`` scored by when to look again (the next
local midnight, or a deadline passing). Each tick takes the due ones, decides their colour
and whether to escalate with ``clues.workdays`` (the calendar lives in Python) and hands the
decisions to one Lua step, which applies each only if the clue did not change since it was
read, raises a supervision ticket on entering red, audits the change and reschedules it.
The API runs ``run_ticker`` in its lifespan; tests call ``tick`` with a literal clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from clues.model import CLAIMED, INVESTIGATING, MAX_ESCALATION
from clues.records import Clue
from clues.store import ClueStore
from clues.workdays import RED, Terms, colour, escalation_due, next_check_ms

log = logging.getLogger(__name__)


def decide(clue: Clue, now_ms: int, store: ClueStore) -> dict[str, str] | None:
    """The ticker's decision for one clue (None: it has no running deadline)."""
    if clue.due_ms is None:
        return None
    terms = Terms.from_dict(clue.sla)
    claimed = clue.status in (CLAIMED, INVESTIGATING)
    cal = store.calendar
    c = colour(now_ms, clue.due_ms, clue.sign_due_ms, claimed, terms, cal)
    escalate = (
        c == RED
        and clue.colour == RED
        and clue.red_since_ms is not None
        and clue.escalation_level < MAX_ESCALATION
        and escalation_due(now_ms, clue.red_since_ms, clue.escalation_level, terms, cal)
    )
    return {
        "id": clue.id,
        "version": str(clue.version),
        "colour": c,
        "escalate": "1" if escalate else "0",
        "next": str(next_check_ms(now_ms, clue.due_ms, clue.sign_due_ms, claimed)),
    }


async def tick(store: ClueStore, now_ms: int, limit: int = 500) -> int:
    """One pass over the clues due for a look at ``now_ms``; how many were updated."""
    r = store.redis
    ids = await r.zrange(store.keys.sla, "-inf", now_ms, byscore=True, offset=0, num=limit)
    if not ids:
        return 0
    pipe = r.pipeline(transaction=False)
    for i in ids:
        pipe.hgetall(store.keys.clue(_t(i)))
    decisions = []
    for h in await pipe.execute():
        if h:
            clue = Clue.from_hash({_t(k): _t(v) for k, v in h.items()})
            d = decide(clue, now_ms, store)
            if d is not None:
                decisions.append(d)
    stale = [
        i
        for i in ids
        if (i if isinstance(i, str) else i.decode()) not in {d["id"] for d in decisions}
    ]
    if stale:
        await r.zrem(store.keys.sla, *stale)
    return await store.apply_sla(now_ms, decisions)


def _t(v: object) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


async def run_ticker(
    store: ClueStore, clock: Callable[[], int], stop: asyncio.Event, every_s: float
) -> None:
    """Tick and reap leases every ``every_s`` seconds until ``stop`` is set."""
    while not stop.is_set():
        try:
            now = clock()
            await store.expire_leases(now)
            while await tick(store, now) >= 500:
                pass
        except Exception as exc:  # a Redis blip: try again next round
            log.warning("clue ticker failed: %s", exc)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), every_s)
