"""Event files as DataFrames: the same typed frame from every format, rejects with the row
and the reason a publish gives, chunk by chunk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pytest

from replay.formats import read_events, write_events
from replay.frames import concat, iter_frames, read_frame
from replay.simulator import simulate_to_file


def _events(make_event: Any) -> list[dict[str, Any]]:
    return [
        make_event(1, region="0571", item="food-license", amount=15),
        make_event(2, region="330102", ts="2026-03-02T10:00:00.250+08:00", online=True),
        make_event(3, stream="regulatory", etype="inspection.finding", amount=7),
        make_event(4, ts="2026-03-02T02:16:00Z", item="x"),
    ]


@pytest.mark.parametrize("name", ["e.jsonl", "e.jsonl.gz", "e.csv", "e.csv.gz", "e.parquet"])
def test_every_format_gives_the_same_typed_frame(
    tmp_path: Path, make_event: Any, name: str
) -> None:
    events = _events(make_event)
    path = tmp_path / name
    write_events(events, path)

    frame, rejects = read_frame(path)

    assert len(rejects) == 0
    assert list(frame["row"]) == [1, 2, 3, 4]
    assert list(frame["id"]) == [e["id"] for e in events]
    assert list(frame["region"]) == ["0571", "330102", "330106", "330106"]  # text, zero kept
    assert str(frame["region"].dtype).startswith("string")
    assert list(frame["ts_ms"]) == [1772414100000, 1772416800250, 1772414100000, 1772417760000]
    assert str(frame["ts"].dt.tz) == "UTC+08:00"  # the first event's offset
    assert frame["ts"].iloc[3] == pd.Timestamp("2026-03-02T10:16:00+08:00")
    assert frame["attrs.amount"].dtype == "Int64"  # a gap stays <NA>, never 15.0
    assert frame["attrs.amount"].tolist() == [15, pd.NA, 7, pd.NA]
    assert frame["attrs.online"].dtype == "boolean"
    assert list(frame["entity.id"]) == [e["entity"]["id"] for e in events]


def _bad_lines(make_event: Any) -> list[str]:
    good = _events(make_event)
    no_ts = dict(good[0], id="no-ts")
    del no_ts["ts"]
    number_region = dict(good[1], id="int-region", region=330106)
    return [
        orjson.dumps(good[0]).decode(),
        "{not json",
        orjson.dumps(no_ts).decode(),
        "",
        orjson.dumps(good[1]).decode(),
        orjson.dumps(number_region).decode(),
        orjson.dumps(dict(good[2], ts="2026-03-02 09:15")).decode(),
        orjson.dumps(good[3]).decode(),
    ]


@pytest.mark.parametrize("chunksize", [2, 100])
def test_rejects_name_the_row_and_the_reason_a_publish_gives(
    tmp_path: Path, make_event: Any, chunksize: int
) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(_bad_lines(make_event)) + "\n")

    frame, rejects = read_frame(path, chunksize=chunksize)

    expected = [(row, reason) for row, env, reason, _ in read_events(path) if env is None]
    assert list(zip(rejects["row"], rejects["reason"], strict=True)) == expected
    assert [row for row, _ in expected] == [2, 3, 6, 7]
    assert rejects["reason"].iloc[0].startswith("bad JSON on line 2")
    assert rejects["reason"].iloc[1] == "missing field 'ts'"
    assert "must be a string" in rejects["reason"].iloc[2]
    assert "needs a UTC offset" in rejects["reason"].iloc[3]
    assert rejects["original"].iloc[0] == "{not json"
    assert list(frame["row"]) == [1, 5, 8]  # line numbers, the blank line counted


def test_a_csv_row_with_too_many_fields_is_a_reject_and_the_rest_still_read(
    tmp_path: Path, make_event: Any
) -> None:
    path = tmp_path / "e.csv"
    write_events(_events(make_event), path)
    lines = path.read_text().splitlines()
    lines.insert(3, lines[2] + ",extra")  # data row 3
    path.write_text("\n".join(lines) + "\n")

    frame, rejects = read_frame(path, chunksize=2)

    assert list(rejects["row"]) == [3]
    assert "fields, the header has" in rejects["reason"].iloc[0]
    assert list(frame["row"]) == [1, 2, 4, 5]
    assert frame["attrs.amount"].tolist()[:1] == [15]


def test_a_simulated_day_agrees_with_the_row_reader_in_every_format(tmp_path: Path) -> None:
    source = tmp_path / "day.jsonl"
    simulate_to_file(source, 3, days=1)
    envelopes = [env for _, env, _, _ in read_events(source) if env is not None]
    for name in ("day.jsonl", "day.csv.gz", "day.parquet"):
        path = source if name == "day.jsonl" else tmp_path / name
        if path != source:
            write_events(envelopes, path)
        chunks = list(iter_frames(path, chunksize=1000))
        assert len(chunks) == -(-len(envelopes) // 1000)
        frame = concat([c.events for c in chunks], chunks[0].events)
        assert list(frame["id"]) == [e["id"] for e in envelopes]
        by_id = frame.set_index("id")
        for env in envelopes[::97]:
            row = by_id.loc[env["id"]]
            assert (row["type"], row["region"], row["entity.id"]) == (
                env["type"],
                env["region"],
                env["entity"]["id"],
            )
            for name_, value in env["attrs"].items():
                assert row[f"attrs.{name_}"] == value


def test_reading_chunk_by_chunk_keeps_memory_flat_in_the_file_size(
    tmp_path: Path, make_event: Any
) -> None:
    import gc
    import tracemalloc

    import pyarrow as pa

    def write(path: Path, n: int) -> Path:
        write_events((dict(make_event(i, item=f"item-{i}"), id=f"e-{i}") for i in range(n)), path)
        return path

    def peak(path: Path) -> int:
        pool_before = pa.default_memory_pool().max_memory() or 0
        tracemalloc.start()
        rows = 0
        for chunk in iter_frames(path, chunksize=2_000):
            rows += len(chunk.events)
            del chunk
            gc.collect()  # what a chunk left behind goes now, not whenever the collector runs
        _, python_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert rows == int(path.stem.split("-")[1])
        return python_peak + max(0, (pa.default_memory_pool().max_memory() or 0) - pool_before)

    small, big = write(tmp_path / "n-4000.jsonl", 4_000), write(tmp_path / "n-32000.jsonl", 32_000)
    peak(small)  # warm: first imports and caches
    assert peak(big) < 1.5 * peak(small)  # 8x the rows, about the same memory
