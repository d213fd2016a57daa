"""The Examples in the rules modules' docstrings run and hold (every operator and type)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "rules.types.aggregates",
    "rules.language.blocks",
    "rules.tools.bench",
    "envelope.calendar",
    "envelope.paths",
    "rules.engine.engine",
    "rules.language.errors",
    "rules.matching.expr",
    "rules.matching.expr_compile",
    "rules.language.fields",
    "rules.language.model",
    "rules.matching.modifiers",
    "rules.matching.regex",
    "rules.matching.selection",
    "rules.language.schemagen",
    "rules.language.shared",
    "rules.language.valuekinds",
    "rules.matching.templates",
    "rules.engine.timers",
    "rules.engine.watermark",
    "rules.language.yamlloc",
    "rules.types.absence",
    "rules.types.absence_deadlines",
    "rules.types.anomaly",
    "rules.types.change",
    "rules.types.common",
    "rules.types.heartbeat",
    "rules.types.match",
    "rules.types.new_value",
    "rules.types.ratio",
    "rules.types.registry",
    "rules.types.sequence",
    "rules.types.spike",
    "rules.types.threshold",
    "rules.types.windowed",
]


@pytest.mark.parametrize("module", MODULES)
def test_docstring_examples(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{module} has no Examples"
    assert result.failed == 0
