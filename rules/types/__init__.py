"""Rule types, one module per type (its spec, field table, builder and evaluator, each
evaluator over explicit per-key state), listed by :mod:`rules.types.registry`."""
