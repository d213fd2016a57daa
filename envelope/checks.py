"""Checks of records read back from a topic any producer can write to: a warning on
``risk.warnings`` is checked field by field before it reaches the clue store."""

from __future__ import annotations

from typing import Any

from envelope.events import RiskWarning, excerpt

_WARNING_TEXT = (
    *("id", "fingerprint", "rule_id", "logic_hash", "severity", "title", "key"),
    *("region", "department", "stage", "summary"),
)


def check_warning(w: RiskWarning) -> RiskWarning:
    """``w`` if every field has its declared type, else ValueError naming the first that has
    not: a record read back from ``risk.warnings`` is checked before it reaches the clue store.

    >>> check_warning(RiskWarning.from_dict({**_EXAMPLE, "ts_ms": "soon"}))
    Traceback (most recent call last):
    ...
    ValueError: ts_ms must be a whole number, got 'soon'
    """
    for name in _WARNING_TEXT:
        if not isinstance(getattr(w, name), str):
            raise ValueError(f"{name} must be text, got {excerpt(getattr(w, name))}")
    for name in ("rule_version", "ts_ms"):
        value = getattr(w, name)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name} must be a whole number, got {excerpt(value)}")
    for name in ("window_start_ms", "window_end_ms"):
        value = getattr(w, name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValueError(f"{name} must be a whole number or null, got {excerpt(value)}")
    if w.value is not None and (isinstance(w.value, bool) or not isinstance(w.value, int | float)):
        raise ValueError(f"value must be a number or null, got {excerpt(w.value)}")
    if not isinstance(w.details, dict):
        raise ValueError(f"details must be a mapping, got {type(w.details).__name__}")
    if not all(isinstance(x, str) for x in (*w.tags, *w.evidence)):
        raise ValueError("tags and evidence must be lists of text")
    return w


_EXAMPLE: dict[str, Any] = {
    "id": "w-1",
    "fingerprint": "f",
    "rule_id": "r",
    "rule_version": 1,
    "logic_hash": "h",
    "severity": "high",
    "title": "t",
    "key": "k",
    "ts_ms": 0,
    "region": "330106",
    "department": "d",
}
