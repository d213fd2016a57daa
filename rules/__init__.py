"""riskloop rules: typed rule models, the pure event-time engine and the shipped library.

Pure package: no Faust, no Redis, no wall clock; it imports only :mod:`envelope` and
:mod:`detectors` of the project. Map of the sub-packages:

- :mod:`rules.language`: YAML with positions, field tables and value kinds, shared blocks,
  ``parse_rule``, lists and macros, ``load_rules``, JSON Schema;
- :mod:`rules.matching`: ``match`` modifiers, the ``where`` language, output templates;
- :mod:`rules.types`: one module per rule type (spec, field table, builder, evaluator),
  the registry of types, windows and aggregators;
- :mod:`rules.engine`: the engine, a runner per rule, hits to warnings, timers, watermark;
- :mod:`rules.tools`: the rule author's tools (check, lint, test, explain, backtest, diff,
  bench); the only part that may import :mod:`replay`.
"""

from rules.language.errors import RuleError, RuleSetError
from rules.language.ruleset import RuleSet, load_rules

__all__ = ["RuleError", "RuleSetError", "RuleSet", "load_rules"]
