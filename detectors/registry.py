"""Detectors by name, so a rule file can pick one: ``detector: {name: hst, params: {...}}``.

The table is explicit and lazy: ``"module:Class"`` strings, imported on first use, so
importing this module loads neither river nor any detector. Adding a detector is one line
here plus a class that passes the contract suite in ``tests/detectors``.

Examples:
    >>> names()
    ['gaussian', 'hst', 'profile', 'robust', 'seasonal']
    >>> make("hst", n_trees=5, seed=7)
    HalfSpaceTreesDetector(n_trees=5, height=8, window_size=250, seed=7, scaler_window=None)
    >>> make("isolation_forest")  # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    detectors.registry.UnknownDetector: unknown detector 'isolation_forest':
        known detectors are gaussian, hst, profile, robust, seasonal
    >>> make("hst", trees=5)  # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    detectors.registry.InvalidParams: detector 'hst' has no parameter 'trees':
        its parameters are n_trees, height, window_size, seed, scaler_window
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from detectors.base import Detector
from envelope.errors import UserError

DETECTORS: dict[str, str] = {
    "gaussian": "detectors.gaussian:GaussianDetector",
    "hst": "detectors.hst:HalfSpaceTreesDetector",
    "profile": "detectors.entity:ProfileDetector",
    "robust": "detectors.robust:RobustDetector",
    "seasonal": "detectors.seasonal:SeasonalDetector",
}


class UnknownDetector(UserError, ValueError):
    """A detector name that is not in :data:`DETECTORS`; the message lists the known ones."""


class InvalidParams(UserError, ValueError):
    """Parameters a detector does not accept, or values it rejects; the message says which."""


def names() -> list[str]:
    """Registered detector names, sorted.

    Examples:
        >>> "hst" in names()
        True
    """
    return sorted(DETECTORS)


def detector_class(name: str) -> type:
    """The class registered as ``name`` (imported now); :class:`UnknownDetector` if none.

    Examples:
        >>> detector_class("gaussian").__name__
        'GaussianDetector'
    """
    try:
        target = DETECTORS[name]
    except (KeyError, TypeError):
        known = ", ".join(names())
        raise UnknownDetector(f"unknown detector {name!r}: known detectors are {known}") from None
    module_name, _, class_name = target.partition(":")
    cls: type = getattr(importlib.import_module(module_name), class_name)
    return cls


def params(name: str) -> dict[str, Any]:
    """A detector's parameters and their defaults, in declaration order.

    Examples:
        >>> params("gaussian")
        {'window': 1000, 'clip': 6.0, 'grace': 30, 'min_std': 0.01, 'warmup': 2}
    """
    sig = inspect.signature(detector_class(name))
    return {p.name: p.default for p in sig.parameters.values()}


def make(name: str, **kwargs: Any) -> Detector:
    """A new detector ``name`` built with ``kwargs``; unknown names and parameters raise.

    Raises :class:`UnknownDetector` for a name not in :data:`DETECTORS` and
    :class:`InvalidParams` for a parameter the detector does not have or a bad value.

    Examples:
        >>> make("gaussian", window=500)
        GaussianDetector(window=500, clip=6.0, grace=30, min_std=0.01, warmup=2)
        >>> make("hst", height=40)  # doctest: +NORMALIZE_WHITESPACE
        Traceback (most recent call last):
        ...
        detectors.registry.InvalidParams: detector 'hst':
            height must be a whole number from 1 to 12, got 40
    """
    cls = detector_class(name)
    accepted = params(name)
    for key in kwargs:
        if key not in accepted:
            listed = ", ".join(accepted)
            raise InvalidParams(
                f"detector {name!r} has no parameter {key!r}: its parameters are {listed}"
            )
    try:
        detector: Detector = cls(**kwargs)
        return detector
    except (TypeError, ValueError) as exc:
        raise InvalidParams(f"detector {name!r}: {exc}") from None
