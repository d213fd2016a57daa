"""riskloop clues."""
