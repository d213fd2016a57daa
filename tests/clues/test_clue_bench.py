"""Upsert throughput against the session Redis: prints warnings/s, asserts only correctness."""

from __future__ import annotations

import time
from collections import Counter

import pytest
from clue_factories import T0, make_warning

from clues.store import ClueStore

pytestmark = [pytest.mark.anyio, pytest.mark.integration, pytest.mark.slow]

N_WARNINGS = 20_000
N_FINGERPRINTS = 2_000


async def test_upsert_throughput(store: ClueStore) -> None:
    warnings = [
        make_warning(f"w{i}", fingerprint=f"fp-{i % N_FINGERPRINTS}", ts_ms=T0 + i)
        for i in range(N_WARNINGS)
    ]

    start = time.perf_counter()
    first = await store.upsert_warnings(warnings)
    mid = time.perf_counter()
    again = await store.upsert_warnings(warnings)
    end = time.perf_counter()

    print(
        f"\nupsert {N_WARNINGS} warnings / {N_FINGERPRINTS} fingerprints:"
        f" {N_WARNINGS / (mid - start):,.0f} warnings/s (new+merged),"
        f" {N_WARNINGS / (end - mid):,.0f} warnings/s (all duplicates)"
    )
    assert Counter(first) == {"new": N_FINGERPRINTS, "merged": N_WARNINGS - N_FINGERPRINTS}
    assert set(again) == {"duplicate"}
