"""The Redis key layout of the clue queue, in one place (ops and dashboards read this too).

With the default prefix ``rl``:

=====================================  ======  ==============================================
key                                    type    content
=====================================  ======  ==============================================
``rl:clue:{clue_id}``                  HASH    the clue record (fields of ``clues.model.Clue``)
``rl:clue:{clue_id}:warnings``         LIST    latest 100 warning ids, newest first
``rl:clue:{clue_id}:audit``            STREAM  the clue's audit trail (one entry per transition)
``rl:fp:{fingerprint}``                HASH    ``clue_id`` and ``generation`` of the
                                               fingerprint's current clue
``rl:fp:{fingerprint}:seen``           SET     warning ids already ingested (idempotency)
``rl:q:{status}``                      ZSET    clue ids in a status, score = display order
``rl:q:{status}:rule:{rule_id}``       ZSET    same, for one rule
``rl:q:all`` / ``rl:q:all:rule:{r}``   ZSET    every clue, newest first_seen first
``rl:audit``                           STREAM  every transition of every clue (MAXLEN ~100k)
``rl:outbox``                          STREAM  dispositions to publish to Kafka; group
                                               ``outbox-publisher``; entries are deleted
                                               once the broker acknowledged them
``rl:outbox:dead``                     STREAM  outbox entries that could not be published
=====================================  ======  ==============================================

Scripts build the same names from the prefix (they need keys they learn while running, like
the fingerprint's current clue), so the store targets a single Redis (or Sentinel), not
Redis Cluster.

>>> k = Keys("rl")
>>> k.clue("clue-1"), k.queue("new"), k.queue("new", "r.x")
('rl:clue:clue-1', 'rl:q:new', 'rl:q:new:rule:r.x')
"""

from __future__ import annotations

from dataclasses import dataclass

OUTBOX_GROUP = "outbox-publisher"


@dataclass(frozen=True, slots=True)
class Keys:
    """Key names under one prefix."""

    prefix: str = "rl"

    def clue(self, clue_id: str) -> str:
        return f"{self.prefix}:clue:{clue_id}"

    def warnings(self, clue_id: str) -> str:
        return f"{self.prefix}:clue:{clue_id}:warnings"

    def clue_audit(self, clue_id: str) -> str:
        return f"{self.prefix}:clue:{clue_id}:audit"

    def fingerprint(self, fingerprint: str) -> str:
        return f"{self.prefix}:fp:{fingerprint}"

    def seen(self, fingerprint: str) -> str:
        return f"{self.prefix}:fp:{fingerprint}:seen"

    def queue(self, status: str, rule_id: str | None = None) -> str:
        base = f"{self.prefix}:q:{status}"
        return f"{base}:rule:{rule_id}" if rule_id else base

    @property
    def audit(self) -> str:
        return f"{self.prefix}:audit"

    @property
    def outbox(self) -> str:
        return f"{self.prefix}:outbox"

    @property
    def outbox_dead(self) -> str:
        return f"{self.prefix}:outbox:dead"
