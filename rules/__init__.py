"""riskloop rules: typed rule models, the pure event-time engine and the shipped library.

Pure package: no Faust, no Redis, no wall clock.
"""

from rules.errors import RuleError, RuleSetError
from rules.ruleset import RuleSet, load_rules

__all__ = ["RuleError", "RuleSetError", "RuleSet", "load_rules"]
