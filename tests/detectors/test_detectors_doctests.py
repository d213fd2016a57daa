"""Every detectors module and every public class and function in it shows an example.

The examples themselves run as doctest items (``--doctest-modules`` in ``pyproject.toml``).
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import detectors

MODULES = ["detectors"] + [
    f"detectors.{m.name}" for m in pkgutil.iter_modules(detectors.__path__) if not m.ispkg
]


@pytest.mark.parametrize("module_name", MODULES)
def test_every_module_has_examples(module_name: str) -> None:
    module = importlib.import_module(module_name)
    found = doctest.DocTestFinder().find(module)
    assert any(test.examples for test in found), f"{module_name} has no Examples"


def test_every_public_class_and_function_has_an_example() -> None:
    missing = []
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        for name, obj in vars(module).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != module_name:
                continue
            if isinstance(obj, type) and issubclass(obj, Exception):
                continue  # errors are shown where they are raised
            if callable(obj) and ">>>" not in (obj.__doc__ or ""):
                missing.append(f"{module_name}.{name}")
    assert missing == []
