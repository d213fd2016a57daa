"""riskloop dashboards."""
