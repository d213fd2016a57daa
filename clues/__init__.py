"""riskloop clues: the Redis clue queue, its HTTP API and the disposition outbox.

One module per noun: ``model`` (record, states, transitions), ``keys`` (Redis layout),
``scripts`` (Lua), ``store`` (ClueStore), ``outbox`` (Kafka publisher), ``metrics``
(Prometheus) and ``api`` (routes and app factory).
"""
