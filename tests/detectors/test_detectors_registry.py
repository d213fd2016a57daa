"""Detectors by name: explicit, lazy, and errors a rule author can act on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from detectors import registry
from detectors.base import Detector

REPO = Path(__file__).resolve().parents[2]


def test_names_are_the_explicit_table_sorted() -> None:
    assert registry.names() == sorted(registry.DETECTORS)
    assert {"hst", "gaussian"} <= set(registry.names())


def test_unknown_name_raises_a_value_error_naming_the_known_ones() -> None:
    with pytest.raises(registry.UnknownDetector) as info:
        registry.make("isolation_forest")
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    assert "'isolation_forest'" in message
    for name in registry.names():
        assert name in message


def test_unknown_parameter_names_the_accepted_ones() -> None:
    with pytest.raises(registry.InvalidParams, match="no parameter 'trees'") as info:
        registry.make("hst", trees=3)
    assert "n_trees, height, window_size, seed" in str(info.value)


@pytest.mark.parametrize(
    ("name", "params", "fragment"),
    [
        ("hst", {"height": 0}, "height must be a whole number from 1 to 12, got 0"),
        ("hst", {"n_trees": "ten"}, "n_trees must be a whole number"),
        ("gaussian", {"window": -5}, "window must be a whole number > 0, got -5"),
        ("gaussian", {"min_std": float("nan")}, "min_std must be a number > 0"),
    ],
)
def test_bad_parameter_values_say_what_is_expected(name: str, params: dict, fragment: str) -> None:
    with pytest.raises(registry.InvalidParams) as info:
        registry.make(name, **params)
    assert f"detector {name!r}" in str(info.value)
    assert fragment in str(info.value)


def test_params_are_applied() -> None:
    det: Any = registry.make("hst", n_trees=3, height=4, window_size=50, seed=5)
    assert (det.n_trees, det.height, det.window_size, det.seed) == (3, 4, 50, 5)


@pytest.mark.parametrize("name", registry.names())
def test_every_detector_documents_an_example(name: str) -> None:
    cls = registry.detector_class(name)
    assert isinstance(registry.make(name), Detector)
    assert cls.__doc__ and "higher" in cls.__doc__.lower() and ">>>" in cls.__doc__


def test_importing_the_registry_loads_no_detector_and_no_river() -> None:
    code = (
        "import sys, detectors.registry as r; r.names(); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('river', 'detectors')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "['detectors', 'detectors.base', 'detectors.registry']"
