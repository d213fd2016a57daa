"""A topic as the broker holds it now: read from the beginning up to the end offsets seen at
the start, with no consumer group (nothing committed, every partition assigned by hand).

Used by ``riskloop export-dispositions`` (``replay.export``) and by workers reading the
rule-set topic at start-up (``streams.ruleset_topic``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

POLL_MS = 1000


async def read_to_end(
    consumer: Any,
    parts: list[Any],
    take: Callable[[Any, Any], None],
    end: dict[Any, int] | None = None,
) -> dict[Any, int]:
    """Call ``take(tp, record)`` for every record of ``parts`` below their end offsets (``end``,
    or those the broker reports now), oldest first per partition; returns the end offsets.

    ``consumer`` is a started aiokafka consumer without a group.
    """
    consumer.assign(parts)
    await consumer.seek_to_beginning(*parts)
    if end is None:
        end = await consumer.end_offsets(parts)
    remaining = {tp for tp in parts if await consumer.position(tp) < end[tp]}
    while remaining:
        batches = await consumer.getmany(*remaining, timeout_ms=POLL_MS)
        for tp, records in batches.items():
            for r in records:
                if r.offset < end[tp]:
                    take(tp, r)
        remaining = {tp for tp in remaining if await consumer.position(tp) < end[tp]}
    return end
