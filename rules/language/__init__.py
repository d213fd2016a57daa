"""The rule language: YAML with positions, field tables and value kinds, shared blocks, typed
rule models, lists and macros, the rule set and its JSON Schema."""
