"""The Examples in the worker's and the platform modules' docstrings run and hold."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "riskloop.bench",
    "riskloop.demo",
    "envelope.events",
    "envelope.partitioning",
    "riskloop.services",
    "riskloop.topic_admin",
    "envelope.settings",
    "streams.agents",
    "streams.metrics",
    "streams.reload",
    "streams.ruleset_topic",
    "streams.state",
]


@pytest.mark.parametrize("module", MODULES)
def test_docstring_examples(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
