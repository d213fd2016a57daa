"""The Redis key layout of the clue queue, in one place (ops and dashboards read this too).

With the default prefix ``rl``:

=====================================  ======  ==============================================
key                                    type    content
=====================================  ======  ==============================================
``rl:clue:{clue_id}``                  HASH    the clue record (fields of ``clues.records.Clue``)
``rl:clue:{clue_id}:warnings``         LIST    latest 100 warning ids, newest first
``rl:clue:{clue_id}:audit``            STREAM  the clue's audit trail (one entry per step, with
                                               the changed fields before and after)
``rl:fp:{fingerprint}``                HASH    ``clue_id`` and ``generation`` of the
                                               fingerprint's current clue
``rl:fp:{fingerprint}:seen``           SET     warning ids already ingested (idempotency)
``rl:q:{status}``                      ZSET    clue ids in a status, score = queue order
``rl:q:{status}:rule:{rule_id}``       ZSET    same, for one rule
``rl:q:{status}:dept:{department}``    ZSET    same, for one department
``rl:q:all`` (``:rule:{r}``,           ZSET    every clue, newest first_seen first
``:dept:{d}``)
``rl:q:due`` (``:dept:{d}``)           ZSET    clues whose deadline runs, score = due time
``rl:q:colour:{colour}``               ZSET    clues of a deadline colour, score = due time
``rl:q:assignee:{actor}``              ZSET    clues an inspector holds, score = due time
``rl:sla``                             ZSET    clues the deadline ticker must look at, score =
                                               when (next midnight, a deadline passing)
``rl:ticket:{id}`` / ``rl:tickets``    HASH /  supervision tickets (督办单) raised on red /
                                       ZSET    by opening time
``rl:stats`` / ``rl:stats:backlog`` /  HASH    durable counters: on-time sign/dispose, returns,
``rl:stats:dispositions``                      rework, pauses; clues per ``status|colour``;
                                               closed clues per ``rule|code``
``rl:token:{sha256}`` / ``rl:tokens``  HASH /  API tokens (hashed) and the set of their hashes
                                       SET
``rl:tokens:revoked``                  SET     hashes of revoked tokens (never stored again)
``rl:secret:pseudonym``                STRING  no longer written: older versions kept the key
                                               of pseudonyms here; the API warns while it exists
``rl:audit``                           STREAM  every step of every clue (MAXLEN ~100k)
``rl:outbox``                          STREAM  transitions and dispositions to publish to
                                               Kafka (``kind``, ``key``, ``value``); group
                                               ``outbox-publisher``; entries are deleted
                                               once the broker acknowledged them
``rl:outbox:dead``                     STREAM  outbox entries that could not be published
``rl:views:day:{day}``                 HASH    event-time counters of a local day (UTC+8,
                                               days since 1970-01-01): warnings, clues opened,
                                               closed verdicts per region, department, rule
                                               and severity or outcome (``clues/lua/views.lua``)
``rl:views:keys:{day}`` /              HASH /  warnings per group key that day / the days
``rl:views:days``                      ZSET    counted
=====================================  ======  ==============================================

Scripts build the same names from the prefix (they need keys they learn while running, like
the fingerprint's current clue), so the store targets a single Redis (or Sentinel), not
Redis Cluster.

>>> k = Keys("rl")
>>> k.clue("clue-1"), k.queue("new"), k.queue("new", "r.x"), k.queue("all", dept="d")
('rl:clue:clue-1', 'rl:q:new', 'rl:q:new:rule:r.x', 'rl:q:all:dept:d')
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

    def queue(self, family: str, rule_id: str | None = None, dept: str | None = None) -> str:
        """An index: a status, ``all`` or ``due``, optionally for one rule or department."""
        base = f"{self.prefix}:q:{family}"
        if rule_id:
            return f"{base}:rule:{rule_id}"
        return f"{base}:dept:{dept}" if dept else base

    def colour(self, colour: str) -> str:
        return f"{self.prefix}:q:colour:{colour}"

    def assignee(self, actor: str) -> str:
        return f"{self.prefix}:q:assignee:{actor}"

    def ticket(self, ticket_id: str) -> str:
        return f"{self.prefix}:ticket:{ticket_id}"

    def token(self, digest: str) -> str:
        return f"{self.prefix}:token:{digest}"

    @property
    def sla(self) -> str:
        return f"{self.prefix}:sla"

    @property
    def tickets(self) -> str:
        return f"{self.prefix}:tickets"

    @property
    def stats(self) -> str:
        return f"{self.prefix}:stats"

    @property
    def backlog(self) -> str:
        return f"{self.prefix}:stats:backlog"

    @property
    def dispositions(self) -> str:
        return f"{self.prefix}:stats:dispositions"

    @property
    def tokens(self) -> str:
        return f"{self.prefix}:tokens"

    @property
    def tokens_revoked(self) -> str:
        return f"{self.prefix}:tokens:revoked"

    @property
    def secret(self) -> str:
        return f"{self.prefix}:secret:pseudonym"

    @property
    def audit(self) -> str:
        return f"{self.prefix}:audit"

    @property
    def outbox(self) -> str:
        return f"{self.prefix}:outbox"

    @property
    def outbox_dead(self) -> str:
        return f"{self.prefix}:outbox:dead"
