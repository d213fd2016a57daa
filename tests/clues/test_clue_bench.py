"""Upsert throughput against the session Redis: prints warnings/s, asserts only correctness."""

from __future__ import annotations

import re
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


def test_the_benchmark_prints_every_figure(
    redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from riskloop import bench_clues as bench

    url = redis_url.rsplit("/", 1)[0] + "/8"  # the benchmark flushes its database
    code = bench.main(
        ["--clues", "2000", "--dispatch", "300", "--seconds", "1", "--repeat", "5"]
        + ["--sink-seconds", "0.2", "--redis-url", url, "--compare-seconds", "0.5"]
        + ["--compare-rates", "200,400"]
    )

    out = capsys.readouterr().out
    assert code == 0
    assert "ingest: 2,000 clues" in out
    assert re.search(r"300 dispatches in [\d.]+ s = [\d,]+ transitions/s", out)
    assert re.search(r"claim / comment / release latency +p50 +[\d.]+ ms +p99", out)
    assert re.search(r"per transition: \d+ µs client CPU, \d+ µs Redis CPU, [\d.]+ round", out)
    compared = re.findall(r"/s +p99 .* client .* \(x[\d.]+\) +Redis .* \(x[\d.]+\)", out)
    assert len(compared) == 2, out
    assert "highest rate within the bound" in out
    assert "list latency over 2,000 clues" in out
    rate = r"[\d,]+ /s \( *\d+ µs, +[\d,]+ clues/s\)"
    sink = re.findall(rf"per warning +{rate}, grouped +{rate}", out)
    assert len(sink) == 4, out


def test_the_benchmark_without_the_sink_leaves_its_section_out(
    redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from riskloop import bench_clues as bench

    url = redis_url.rsplit("/", 1)[0] + "/8"
    argv = ["--clues", "300", "--dispatch", "100", "--seconds", "0.5", "--repeat", "2"]
    argv += ["--sweep-seconds", "0", "--compare-seconds", "0", "--sink-seconds", "0"]
    assert bench.main([*argv, "--redis-url", url]) == 0
    out = capsys.readouterr().out
    assert "list latency over 300 clues" in out and "clue sink" not in out
