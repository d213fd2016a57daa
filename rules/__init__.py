"""riskloop rules."""
