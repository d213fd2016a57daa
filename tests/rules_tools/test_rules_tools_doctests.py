"""The Examples in the rule tools' docstrings run and hold."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "rules.tools.times",
    "rules.tools.compare",
    "rules.tools.testing",
    "rules.tools.junit",
    "rules.tools.lint",
    "rules.tools.explain",
    "rules.tools.diff",
    "rules.tools.verdicts",
]


@pytest.mark.parametrize("module", MODULES)
def test_docstring_examples(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
