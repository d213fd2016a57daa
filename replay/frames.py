"""Event files as pandas DataFrames: a typed frame of the events and a frame of the rejects.

    events, rejects = read_frame("day.parquet")
    events.groupby(["region", events.ts.dt.date]).size()

``events`` has one row per valid event: ``row`` (the row number in the file, as
:func:`replay.formats.read_events` counts it), the envelope's text fields as pandas strings
(``region`` ``"0571"`` keeps its zero), ``ts`` as a timezone-aware datetime at the UTC offset
of the file's first event, ``ts_ms`` (epoch ms) and one typed column per attribute
(``attrs.amount`` Int64/Float64, ``attrs.online`` boolean, text as strings; a gap is
``<NA>``, never a float). ``rejects`` has ``row``, ``reason`` and ``original`` for every row
that is not a valid event, with the same reason a publish or a backtest gives.

The vectors do the work: pyarrow parses each chunk, pandas checks every envelope rule at once;
only a row those checks cannot pass (and a chunk pyarrow refuses, such as a bad JSON line) goes
through :meth:`Event.from_dict` one row at a time, which gives the reason. A CSV file whose
rows pyarrow cannot split alike is read row by row from where it stopped. In a frame an
attribute column has one type: CSV cells of a column that are all numbers (or all
``true``/``false``) are numbers (booleans), else text.

Memory stays flat in the file size with :func:`iter_frames`, one chunk at a time.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.json as pjson
import pyarrow.parquet as pq

from envelope.events import _TIMESTAMP, STREAMS
from replay.formats import (
    TEXT_COLUMNS,
    Layout,
    ParsedRow,
    decode_cell,
    file_format,
    flatten,
    jsonl_row,
    open_file,
    read_rows,
    validate_row,
)

CHUNK_ROWS = 100_000
_NULLABLE = {
    pa.int64(): pd.Int64Dtype(),
    pa.float64(): pd.Float64Dtype(),
    pa.bool_(): pd.BooleanDtype(),
    pa.string(): pd.StringDtype("pyarrow"),
    pa.large_string(): pd.StringDtype("pyarrow"),
}
_TEXT_SCHEMA = pa.schema(
    [(c, pa.string()) for c in TEXT_COLUMNS if not c.startswith("entity.")]
    + [("entity", pa.struct([("kind", pa.string()), ("id", pa.string())]))]
)
_NUMBER = r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?"
REJECT_COLUMNS = ["row", "reason", "original"]
_EPOCH = pd.Timestamp(0, tz="UTC")


class Frames(NamedTuple):
    """The events of a file (or a chunk of it) and its rejects."""

    events: pd.DataFrame
    rejects: pd.DataFrame


def read_frame(
    path: str | Path,
    *,
    mapping: str | Path | None = None,
    chunksize: int = CHUNK_ROWS,
    encoding: str = "utf-8",
) -> Frames:
    """The whole file as ``Frames(events, rejects)``; ``mapping``: a column mapping file
    (:mod:`replay.mapping`) for a file that is not in the envelope."""
    chunks = list(iter_frames(path, mapping=mapping, chunksize=chunksize, encoding=encoding))
    return Frames(
        concat([c.events for c in chunks], _empty_events()),
        concat([c.rejects for c in chunks], _empty_rejects()),
    )


def iter_frames(
    path: str | Path,
    *,
    mapping: str | Path | None = None,
    chunksize: int = CHUNK_ROWS,
    encoding: str = "utf-8",
) -> Iterator[Frames]:
    """``Frames`` chunk by chunk, each of at most ``chunksize`` rows of the file."""
    path = Path(path)
    clock = Zone()
    if mapping is not None:
        from replay.mapping import load_mapping

        rows = load_mapping(mapping).rows(path, chunksize=chunksize, encoding=encoding)
        yield from _row_frames(rows, clock, chunksize)
        return
    kind = file_format(path)
    if kind == "parquet":
        yield from _parquet_frames(path, clock, chunksize)
    elif kind == "jsonl":
        yield from _jsonl_frames(path, clock, chunksize, encoding)
    else:
        yield from _csv_frames(path, clock, chunksize, encoding)


def concat(frames: list[pd.DataFrame], empty: pd.DataFrame) -> pd.DataFrame:
    """Chunks as one frame (columns a chunk lacks are ``<NA>`` there)."""
    frames = [f for f in frames if len(f)]
    if not frames:
        return empty
    if len(frames) == 1:
        return frames[0]
    with warnings.catch_warnings():  # a column all <NA> in one chunk takes the others' type
        warnings.simplefilter("ignore", FutureWarning)
        return pd.concat(frames, ignore_index=True)


def _empty_events() -> pd.DataFrame:
    frame = pd.DataFrame({"row": pd.Series(dtype="int64")})
    for name in TEXT_COLUMNS:
        frame[name] = pd.Series(dtype=pd.StringDtype("pyarrow"))
    frame["ts"] = pd.Series(dtype="datetime64[ns, UTC]")
    frame["ts_ms"] = pd.Series(dtype="int64")
    return frame


def _empty_rejects() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "row": pd.Series(dtype="int64"),
            "reason": pd.Series(dtype="string"),
            "original": pd.Series(dtype=object),
        }
    )


class Zone:
    """The UTC offset of a file's first event: every chunk's ``ts`` is shown at it."""

    def __init__(self) -> None:
        self.tz: tzinfo | None = None

    def of(self, first_ts: str) -> tzinfo:
        if self.tz is None:
            self.tz = datetime.fromisoformat(first_ts).tzinfo or UTC
        return self.tz


# ----------------------------------------------------------------------------- checking


def check_frame(frame: pd.DataFrame, rows: np.ndarray, zone: Zone) -> tuple[pd.DataFrame, Any]:
    """The rows every envelope rule passes, typed, and the positions of the others.

    A row failing here may still be valid (a timestamp pandas does not read): the caller
    sends those rows through :meth:`Event.from_dict`, which has the last word.
    """
    n = len(frame)
    ok = np.ones(n, dtype=bool)
    for name in TEXT_COLUMNS:
        column = frame.get(name)
        if column is None or not pd.api.types.is_string_dtype(column.dtype):
            return frame.iloc[:0], np.arange(n)
        ok &= column.notna().to_numpy()
        if name != "region":
            ok &= (column.str.len() > 0).fillna(False).to_numpy(dtype=bool)
    ok &= frame["stream"].isin(STREAMS).fillna(False).to_numpy(dtype=bool)
    ok &= frame["type"].str.contains(".", regex=False).fillna(False).to_numpy(dtype=bool)
    ok &= frame["ts"].str.fullmatch(_TIMESTAMP.pattern).fillna(False).to_numpy(dtype=bool)
    ts = _times(frame["ts"])
    ok &= ts.notna().to_numpy()
    good = frame[ok].copy()
    if len(good):
        stamp = ts[ok]
        good["ts"] = stamp.dt.tz_convert(zone.of(str(frame["ts"][ok].iloc[0])))
        good["ts_ms"] = (stamp - _EPOCH) // pd.Timedelta(1, "ms")
    good.insert(0, "row", rows[ok])
    return _ordered(good), np.flatnonzero(~ok)


def _times(text: pd.Series) -> pd.Series:
    """UTC datetimes of ISO 8601 texts (NaT where unreadable): pyarrow reads the usual
    ``2026-03-02T09:15:00+08:00`` in C, pandas the rest (fractions, ``Z``, no seconds)."""
    array = pa.array(text.astype(pd.StringDtype("pyarrow")), type=pa.string())
    fast = pc.strptime(array, format="%Y-%m-%dT%H:%M:%S%z", unit="ms", error_is_null=True)
    ts = pd.Series(fast.to_pandas(types_mapper=None), index=text.index)
    ts = ts.dt.tz_localize("UTC") if ts.dt.tz is None else ts
    rest = ts.isna() & text.notna()
    if rest.any():
        ts[rest] = pd.to_datetime(text[rest], format="ISO8601", utc=True, errors="coerce")
    return ts


def _ordered(frame: pd.DataFrame) -> pd.DataFrame:
    head = ["row", *TEXT_COLUMNS[:4], "ts_ms", *TEXT_COLUMNS[4:]]
    head = [c for c in head if c in frame.columns]
    rest = [c for c in frame.columns if c not in head and c != "attrs"]
    return frame[head + rest].reset_index(drop=True)


def _row_frames(rows: Iterable[ParsedRow], zone: Zone, chunksize: int) -> Iterator[Frames]:
    """Frames from rows already parsed one by one (mapped files, refused chunks)."""
    it = iter(rows)
    while chunk := list(itertools.islice(it, chunksize)):
        yield _frames_of(chunk, zone)


def _frames_of(chunk: list[ParsedRow], zone: Zone) -> Frames:
    good: list[dict[str, Any]] = []
    numbers: list[int] = []
    rejects: list[tuple[int, str, object]] = []
    for row, _envelope, reason, original, event in chunk:
        if event is None:
            rejects.append((row, reason or "invalid event", original))
        else:
            good.append(flatten(event.to_dict()))
            numbers.append(row)
    return Frames(_typed_records(good, numbers, zone), _rejects(rejects))


def _typed_records(good: list[dict[str, Any]], numbers: list[int], zone: Zone) -> pd.DataFrame:
    if not good:
        return _empty_events()
    try:
        frame = pa.Table.from_pylist(good).to_pandas(types_mapper=_NULLABLE.get)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # one column, several types: kept as objects
        frame = pd.DataFrame(good)
        for name in TEXT_COLUMNS:
            frame[name] = frame[name].astype(pd.StringDtype("pyarrow"))
    events, _ = check_frame(frame, np.asarray(numbers, dtype=np.int64), zone)
    return events


def _rejects(rejects: list[tuple[int, str, object]]) -> pd.DataFrame:
    if not rejects:
        return _empty_rejects()
    frame = pd.DataFrame(rejects, columns=REJECT_COLUMNS)
    frame["reason"] = frame["reason"].astype("string")
    return frame


def _merge(fast: pd.DataFrame, slow: Frames) -> Frames:
    """The vector-checked rows with those checked one by one, in file order."""
    if not len(slow.events):
        return Frames(fast, slow.rejects)
    events = pd.concat([fast, slow.events], ignore_index=True).sort_values("row", kind="stable")
    return Frames(events.reset_index(drop=True), slow.rejects)


# ----------------------------------------------------------------------------- formats


def _parquet_frames(path: Path, zone: Zone, chunksize: int) -> Iterator[Frames]:
    pf = pq.ParquetFile(path)
    names = pf.schema_arrow.names
    encoded = {
        f.name for f in pf.schema_arrow if (f.metadata or {}).get(b"riskloop.cell") == b"json"
    }
    layout = Layout(names, encoded)
    start = 1
    for batch in pf.iter_batches(batch_size=chunksize):
        frame = batch.to_pandas(types_mapper=_NULLABLE.get)
        for name in encoded:
            frame[name] = frame[name].map(decode_cell, na_action="ignore")
        rows = np.arange(start, start + len(frame), dtype=np.int64)
        events, bad = check_frame(frame, rows, zone)
        slow = []
        for position in bad:
            values = [_plain(v) for v in batch.slice(int(position), 1).to_pylist()[0].values()]
            original = dict(zip(names, values, strict=True))
            envelope = layout.envelope(values, empty=None)
            slow.append(validate_row(int(rows[position]), envelope, original))
        yield _merge(events, _frames_of(slow, zone))
        start += len(frame)


def _plain(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _jsonl_frames(path: Path, zone: Zone, chunksize: int, encoding: str) -> Iterator[Frames]:
    for lines in jsonl_chunks(path, chunksize):
        yield _jsonl_chunk(lines, zone, encoding)


def jsonl_chunks(path: Path, chunksize: int) -> Iterator[list[tuple[int, bytes]]]:
    """``(line number, line)`` of the non-blank lines of a JSON lines file, chunk by chunk."""
    with open_file(path, "rb") as f:
        numbered = enumerate(f, start=1)
        while chunk := list(itertools.islice(numbered, chunksize)):
            if chunk[0][0] == 1:
                chunk[0] = (1, chunk[0][1].removeprefix(b"\xef\xbb\xbf"))
            yield [(n, raw) for n, raw in chunk if raw.strip()]


def jsonl_table(lines: list[tuple[int, bytes]]) -> pd.DataFrame | None:
    """The lines parsed by pyarrow into flat columns; None when pyarrow refuses the chunk."""
    options = pjson.ParseOptions(explicit_schema=_TEXT_SCHEMA, unexpected_field_behavior="infer")
    blob = b"".join(raw if raw.endswith(b"\n") else raw + b"\n" for _, raw in lines)
    try:
        table = pjson.read_json(pa.BufferReader(blob), parse_options=options)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # a bad line, a field of two types
        return None
    return table.flatten().to_pandas(types_mapper=_NULLABLE.get)


def _jsonl_chunk(lines: list[tuple[int, bytes]], zone: Zone, encoding: str) -> Frames:
    def one_by_one(wanted: Iterable[tuple[int, bytes]]) -> Frames:
        return _frames_of([r for n, raw in wanted if (r := jsonl_row(n, raw, encoding))], zone)

    frame = jsonl_table(lines) if encoding == "utf-8" and lines else None
    if frame is None:
        return one_by_one(lines)
    rows = np.fromiter((n for n, _ in lines), dtype=np.int64, count=len(lines))
    events, bad = check_frame(frame, rows, zone)
    return _merge(events, one_by_one(lines[int(p)] for p in bad))


class _Refused(Exception):
    """pyarrow could not read a CSV row alike with the row-by-row reader."""


def _csv_frames(path: Path, zone: Zone, chunksize: int, encoding: str) -> Iterator[Frames]:
    done = 0
    try:
        for frames, rows in _csv_fast(path, zone, chunksize, encoding):
            done += rows
            yield frames
    except (_Refused, pa.ArrowInvalid, UnicodeDecodeError):
        rest = itertools.islice(read_rows(path, encoding=encoding), done, None)
        yield from _row_frames(rest, zone, chunksize)


def _csv_fast(
    path: Path, zone: Zone, chunksize: int, encoding: str
) -> Iterator[tuple[Frames, int]]:
    def refuse(_row: Any) -> str:
        raise _Refused()

    read = pcsv.ReadOptions(
        encoding="utf8" if encoding == "utf-8" else encoding, block_size=1 << 22
    )
    parse = pcsv.ParseOptions(invalid_row_handler=refuse)
    header = pcsv.open_csv(path, read_options=read).schema.names
    header = [h.removeprefix("\ufeff") for h in header]
    convert = pcsv.ConvertOptions(
        column_types={h: pa.string() for h in header},
        strings_can_be_null=True,
        null_values=[""],
    )
    reader = pcsv.open_csv(path, read_options=read, parse_options=parse, convert_options=convert)
    layout = Layout(header, set(header) - set(TEXT_COLUMNS))
    start, pending = 1, None
    for batch in reader:
        table = pa.Table.from_batches([batch]).rename_columns(header)
        pending = table if pending is None else pa.concat_tables([pending, table])
        while pending is not None and (len(pending) >= chunksize):
            part, pending = pending.slice(0, chunksize), pending.slice(chunksize)
            yield _csv_chunk(part, layout, start, zone), len(part)
            start += len(part)
    if pending is not None and len(pending):
        yield _csv_chunk(pending, layout, start, zone), len(pending)


def _csv_chunk(table: pa.Table, layout: Layout, start: int, zone: Zone) -> Frames:
    frame = table.to_pandas(types_mapper=_NULLABLE.get)
    for name in frame.columns:
        if name not in TEXT_COLUMNS:
            frame[name] = _typed_cells(frame[name])
    rows = np.arange(start, start + len(frame), dtype=np.int64)
    events, bad = check_frame(frame, rows, zone)
    slow = []
    for position in bad:
        cells = [
            None if v is None else str(v)
            for v in table.slice(int(position), 1).to_pylist()[0].values()
        ]
        original = {
            k: "" if v is None else v for k, v in zip(table.column_names, cells, strict=True)
        }
        slow.append(validate_row(int(rows[position]), layout.envelope(cells, None), original))
    return _merge(events, _frames_of(slow, zone))


def _typed_cells(column: pd.Series) -> pd.Series:
    """One CSV attribute column: numbers, booleans, JSON values or text (module docstring)."""
    cells = column.dropna()
    if not len(cells):
        return column
    if cells.str.fullmatch(_NUMBER).all():
        number = pd.to_numeric(column)
        whole = cells.str.fullmatch(r"-?\d+").all() and number.abs().max() < 2**63
        return number.astype("Int64" if whole else "Float64")
    if cells.isin(["true", "false"]).all():
        return column.map({"true": True, "false": False}).astype("boolean")
    if cells.str[:1].isin(['"', "{", "["]).any():
        return column.map(decode_cell, na_action="ignore")
    return column
