"""riskloop streams."""
