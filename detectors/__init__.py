"""riskloop detectors."""
