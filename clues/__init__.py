"""riskloop clues: the clue verification queue inspectors work, in Redis, with its HTTP API.

One module per noun:

- ``model`` (states, the transition table with roles, codes, errors) and ``records`` (Clue,
  AuditEntry);
- ``workdays`` (China's working-day calendar, deadline policy, colours), ``policy_file``
  (the deadline policy file, ``RISKLOOP_DEADLINE_POLICY_FILE``), ``access``
  (principals, scopes, token hashing), ``privacy`` (pseudonyms), ``listing`` (queries and
  cursors), ``actions`` (argument checks) — all pure;
- ``keys`` (Redis layout), ``scripts`` (the Lua in ``lua/``), ``store``
  (ClueStore), ``sla`` (deadline ticker), ``tokens`` (TokenStore), ``outbox`` (Kafka
  publisher), ``metrics`` (Prometheus);
- ``api`` (app factory), ``routes`` and ``bodies`` (endpoints), ``access_log`` (uvicorn's
  access log pseudonymised), ``page`` (inspector web page), ``cli`` (``riskloop clues …``),
  ``bench`` (``python -m riskloop.bench_clues``).
"""
