"""Evaluators, one module per rule type, each over explicit per-key state."""
