"""Rows to publish from a JSON lines file, checked a chunk at a time with pyarrow and pandas.

A replay spends most of its time validating each envelope on its own (about 15 us an event).
Here pyarrow parses a chunk of lines and :func:`replay.frames.check_frame` checks every
envelope rule on the whole chunk at once; a valid line is published as the file has it (its
bytes, without re-encoding), and only the lines those checks cannot pass go through
:meth:`Event.from_dict`, which gives the reason, exactly as the row-by-row reader would.

Each row is ``(row, value, ts_ms, type, stream, key, reason, original)``: ``value`` is None
for a reject (with ``reason`` and ``original``), ``key`` is the text at the partition field
(None if it holds nothing usable).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

from replay.formats import ParsedRow, jsonl_row, partition_key
from replay.frames import Zone, check_frame, jsonl_chunks, jsonl_table

FastRow = tuple[int, bytes | None, int, str, str, bytes | None, str | None, object]


def fast_rows(path: Path, partition_field: str, chunksize: int = 20_000) -> Iterator[FastRow]:
    """Every row of a UTF-8 JSON lines file, in file order (see the module docstring)."""
    zone = Zone()
    for lines in jsonl_chunks(path, chunksize):
        frame = jsonl_table(lines) if lines else None
        if frame is None:
            yield from (fast_row(r, partition_field) for r in _parsed(lines))
            continue
        rows = np.fromiter((n for n, _ in lines), dtype=np.int64, count=len(lines))
        good, bad = check_frame(frame, rows, zone)
        slow = {int(rows[p]): r for p in bad if (r := jsonl_row(*lines[int(p)])) is not None}
        keys = _keys(good, partition_field)
        by_row = dict(zip(good["row"].tolist(), range(len(good)), strict=True))
        ts, types, streams = good["ts_ms"].tolist(), good["type"].tolist(), good["stream"].tolist()
        for n, raw in lines:
            i = by_row.get(n)
            if i is None:
                yield fast_row(slow[n], partition_field)
            else:
                yield n, raw.rstrip(b"\r\n"), ts[i], types[i], streams[i], keys[i], None, None


def _parsed(lines: list[tuple[int, bytes]]) -> Iterator[ParsedRow]:
    return (r for n, raw in lines if (r := jsonl_row(n, raw)) is not None)


def fast_row(parsed: ParsedRow, partition_field: str) -> FastRow:
    """A row read one by one, in the same shape."""
    row, envelope, reason, original, event = parsed
    if envelope is None or event is None:
        return row, None, 0, "", "", None, reason or "invalid event", original
    value = orjson.dumps(envelope, default=str)
    key = partition_key(event, partition_field)
    return row, value, event.ts_ms, event.type, event.stream, key, None, original


def _keys(good: pd.DataFrame, partition_field: str) -> list[bytes | None]:
    column = good.get(partition_field)
    if column is None:
        return [None] * len(good)
    return [_key(v) for v in column.tolist()]


def _key(value: Any) -> bytes | None:
    if value is None or value is pd.NA or value == "" or isinstance(value, dict | list):
        return None
    if isinstance(value, float) and value != value:
        return None
    return str(value).encode()
