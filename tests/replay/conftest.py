"""Factories shared by the replay tests: envelopes with literal timestamps."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

MakeEvent = Callable[..., dict[str, Any]]


@pytest.fixture
def make_event() -> MakeEvent:
    """``make_event(n, ts=..., region=..., **attrs)`` -> a valid envelope dict."""

    def make(
        n: int,
        ts: str = "2026-03-02T09:15:00+08:00",
        region: str = "330106",
        stream: str = "service",
        etype: str = "application.submitted",
        entity_id: str = "91330106MA2B00001",
        **attrs: Any,
    ) -> dict[str, Any]:
        return {
            "id": f"evt-{n:04d}",
            "type": etype,
            "stream": stream,
            "ts": ts,
            "source": "provincial-portal",
            "region": region,
            "department": "market-supervision",
            "entity": {"kind": "enterprise", "id": entity_id},
            "attrs": attrs,
        }

    return make
