"""The Examples in the rules modules' docstrings run and hold (every operator and type)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "rules.aggregates",
    "rules.blocks",
    "rules.bench",
    "rules.calendar",
    "rules.engine",
    "rules.errors",
    "rules.expr",
    "rules.expr_compile",
    "rules.fields",
    "rules.model",
    "rules.operators",
    "rules.schemagen",
    "rules.shared",
    "rules.specs",
    "rules.typetables",
    "rules.valuekinds",
    "rules.templates",
    "rules.timers",
    "rules.watermark",
    "rules.yamlloc",
    "rules.kinds.absence",
    "rules.kinds.anomaly",
    "rules.kinds.change",
    "rules.kinds.common",
    "rules.kinds.heartbeat",
    "rules.kinds.match",
    "rules.kinds.new_value",
    "rules.kinds.ratio",
    "rules.kinds.sequence",
    "rules.kinds.spike",
    "rules.kinds.threshold",
    "rules.kinds.windowed",
]


@pytest.mark.parametrize("module", MODULES)
def test_docstring_examples(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{module} has no Examples"
    assert result.failed == 0
