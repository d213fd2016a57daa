"""riskloop: monitoring -> risk early warning -> clue verification -> disposal -> feedback."""

__version__ = "0.1.0"
