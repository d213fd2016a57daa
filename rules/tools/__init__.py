"""Tools for rule authors: ``riskloop rules check | test | explain | backtest``.

They run the same pure engine as the live worker (``rules.engine.engine.Engine``) on event time,
so a unit test, an explanation and a backtest agree with production. Only the CLI edge
(:mod:`rules.tools.cli`) reads the wall clock (today's date for expiring exceptions).
"""
