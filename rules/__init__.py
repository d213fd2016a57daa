"""riskloop rules: typed rule models, the pure event-time engine and the shipped library.

Pure package: no Faust, no Redis, no wall clock. Map of the modules:

- parsing: :mod:`rules.yamlloc` (YAML with positions), :mod:`rules.fields` and
  :mod:`rules.valuekinds` (the field tables' value kinds), :mod:`rules.blocks` (shared
  blocks), :mod:`rules.typetables` / :mod:`rules.specs` (per-type tables and specs),
  :mod:`rules.model` (``parse_rule``), :mod:`rules.shared` (lists, macros),
  :mod:`rules.ruleset` (``load_rules``), :mod:`rules.schemagen` (JSON Schema);
- conditions: :mod:`rules.operators` (``match`` modifiers), :mod:`rules.expr` and
  :mod:`rules.expr_compile` (the ``where`` language), :mod:`rules.templates`;
- evaluation: :mod:`rules.engine`, :mod:`rules.runner`, :mod:`rules.emit`,
  :mod:`rules.timers`, :mod:`rules.aggregates`, :mod:`rules.calendar` and one module
  per rule type in :mod:`rules.kinds`;
- :mod:`rules.bench` (``python -m rules.bench``) and the tools in :mod:`rules.tools`.
"""

from rules.errors import RuleError, RuleSetError
from rules.ruleset import RuleSet, load_rules

__all__ = ["RuleError", "RuleSetError", "RuleSet", "load_rules"]
