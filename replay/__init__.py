"""riskloop replay."""
