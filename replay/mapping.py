"""Files that are not in the envelope, mapped onto it by a YAML column mapping, with pandas.

A hotline export ``ticket_no,district,dept,created,category,minutes`` becomes events with::

    columns:                     # envelope field: source column
      region: district
      department: dept
      entity.id: ticket_no
      attrs.category: category
      attrs.minutes: {column: minutes, type: int}
    time:
      column: created
      format: "%Y/%m/%d %H:%M"   # strptime codes; omit for ISO 8601; epoch_s or epoch_ms
      zone: Asia/Shanghai        # the zone of times written without an offset
    constants:                   # the same value for every row
      type: hotline.ticket
      stream: service
      source: 12345-hotline
      entity.kind: ticket
    id_from: [ticket_no]         # no id column: a stable id from these columns (default all)

The source is CSV, JSON lines or Parquet (from its extension, ``.gz`` too), read in chunks.
Each chunk is mapped at once with pandas; a row that cannot be mapped (an empty or unreadable
time, a time the zone skips, a cell that is not of its ``type``) and a row that then is no
valid event are rejects with the row number and the reason, as any event file's rows are.
Ids are derived from the row's cells, so the same row sent twice is the same event.

A mapping file with a mistake is refused whole, naming ``file:line:col`` and the fix; a
column the mapping names and the source lacks stops the run before any row.
"""

from __future__ import annotations

import csv
import itertools
import re
from collections.abc import Iterator
from datetime import timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import orjson
import pandas as pd
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from envelope.errors import UserError
from envelope.events import stable_id
from replay.formats import ParsedRow, file_format, open_file, validate_row
from rules.language.errors import RuleError
from rules.language.yamlloc import load_located

FIELDS = ("id", "type", "stream", "source", "region", "department", "entity.kind", "entity.id")
_OFFSET = r"([+-]\d{2})(\d{2})$"
_TRUE, _FALSE = {"true", "1", "yes", "y"}, {"false", "0", "no", "n"}


class MappingError(UserError, ValueError):
    """A mapping file that cannot be used, or a source it does not fit."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Column(_Model):
    column: str
    type: Literal["str", "int", "float", "bool"] = "str"


class Time(_Model):
    column: str
    zone: str
    format: str | None = None

    @field_validator("zone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        _zone(zone)
        return zone


class Mapping(_Model):
    """A parsed mapping file (see the module docstring)."""

    columns: dict[str, str | Column] = Field(default_factory=dict)
    time: Time
    constants: dict[str, str | int | float | bool] = Field(default_factory=dict)
    id_from: list[str] | None = None

    @field_validator("columns", "constants")
    @classmethod
    def _envelope_fields(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            if name == "ts":
                raise ValueError(f"{name!r}: the event time comes from 'time:', not from here")
            if name not in FIELDS and not name.startswith("attrs."):
                raise ValueError(
                    f"{name!r} is no envelope field: use one of {', '.join(FIELDS)} or attrs.NAME"
                )
        return value

    def column_of(self, name: str) -> Column:
        spec = self.columns[name]
        return Column(column=spec) if isinstance(spec, str) else spec

    def rows(
        self, path: str | Path, *, chunksize: int = 50_000, encoding: str = "utf-8"
    ) -> Iterator[ParsedRow]:
        """The source file's rows mapped to envelopes, checked like any event file's rows."""
        path = Path(path)
        named = {self.column_of(n).column for n in self.columns} | {self.time.column}
        named |= set(self.id_from or ())
        for numbers, frame in _source_chunks(path, chunksize, encoding):
            reasons = frame.pop(_REASON) if _REASON in frame else _no_reasons(frame)
            cells = frame.pop(_CELLS) if _CELLS in frame else None
            if file_format(path) == "jsonl":  # a key no line of the chunk has: empty cells
                frame = frame.reindex(columns=[*frame.columns, *sorted(named - set(frame))])
            _check_columns(frame, named, path)
            yield from self._map(numbers, frame, reasons, cells)

    def _map(
        self, numbers: np.ndarray, frame: pd.DataFrame, reasons: pd.Series, cells: Any
    ) -> Iterator[ParsedRow]:
        reasons = reasons.astype("object")
        fields: dict[str, pd.Series] = {}
        for name in self.columns:
            spec = self.column_of(name)
            fields[name] = _typed(frame[spec.column], spec, reasons)
        fields["ts"] = _event_times(frame[self.time.column], self.time, reasons)
        if "id" not in fields:
            fields["id"] = _ids(frame[self.id_from or list(frame.columns)])
        mapped = pd.DataFrame(fields, index=frame.index)
        originals = frame.to_dict("records")
        raw = [None] * len(frame) if cells is None else cells.tolist()
        for i, (record, reason) in enumerate(
            zip(mapped.to_dict("records"), reasons.tolist(), strict=True)
        ):
            original = raw[i] if isinstance(raw[i], list) else _present(originals[i])
            row = int(numbers[i])
            if not _missing(reason):
                yield row, None, str(reason), original, None
                continue
            yield validate_row(row, self._envelope(record), original)

    def _envelope(self, record: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"attrs": {}}
        for name, value in itertools.chain(self.constants.items(), record.items()):
            if _missing(value):
                continue
            head, dot, sub = name.partition(".")
            if dot:
                out.setdefault(head, {})[sub] = value
            else:
                out[head] = value
        return out


_REASON, _CELLS = "__reason__", "__cells__"
_QUOTED = re.compile(r"^Value error, '([^']+)'")


def _no_reasons(frame: pd.DataFrame) -> pd.Series:
    return pd.Series(None, index=frame.index, dtype="object")


def _present(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if not _missing(v)}


def _check_columns(frame: pd.DataFrame, named: set[str], path: Path) -> None:
    missing = sorted(named - set(frame.columns))
    if missing:
        have = ", ".join(map(str, frame.columns)) or "no columns"
        raise MappingError(
            f"no column {', '.join(map(repr, missing))} named by the mapping; the file has {have}",
            str(path),
        )


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or value == "" or value != value


def _zone(zone: str) -> tzinfo:
    if zone[:1] in "+-":
        try:
            sign = -1 if zone[0] == "-" else 1
            hours, minutes = zone[1:].split(":")
            return timezone(sign * timedelta(hours=int(hours), minutes=int(minutes)))
        except ValueError:
            raise ValueError(f"zone {zone!r} must be like '+08:00' or 'Asia/Shanghai'") from None
    try:
        return ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown zone {zone!r}: use a name like 'Asia/Shanghai' or '+08:00'"
        ) from None


def _blank(column: pd.Series) -> pd.Series:
    return column.isna() | (column.astype("string").str.strip() == "")


def _typed(column: pd.Series, spec: Column, reasons: pd.Series) -> pd.Series:
    """The cells of a mapped column as their ``type``; a cell that is not one is a reject."""
    blank = _blank(column)
    if spec.type == "str":
        return column.astype("string").where(~blank)
    text = column.astype("string").str.strip()
    if spec.type == "bool":
        lower = text.str.lower()
        value = lower.map(lambda v: True if v in _TRUE else False if v in _FALSE else None)
        bad = ~blank & value.isna()
        out = value.astype("object")
    else:
        number = pd.to_numeric(text.where(~blank), errors="coerce")
        bad = ~blank & (number.isna() | ((number % 1 != 0) if spec.type == "int" else False))
        out = number.astype("Int64" if spec.type == "int" else "Float64", errors="ignore")
        out = out.astype("object").where(~bad)
    _reject(reasons, bad, column, f"is not {_TYPE_WORDS[spec.type]}", spec.column)
    return out.where(~blank)


_TYPE_WORDS = {"int": "a whole number", "float": "a number", "bool": "true or false"}


def _reject(reasons: pd.Series, bad: pd.Series, column: pd.Series, what: str, name: str) -> None:
    """Give each ``bad`` row without a reason yet the reason ``column NAME value V WHAT``."""
    new = bad.fillna(False).astype(bool) & reasons.map(_missing)
    for index in new[new].index:
        reasons[index] = f"column {name!r} value {str(column[index])[:40]!r} {what}"


def _event_times(column: pd.Series, spec: Time, reasons: pd.Series) -> pd.Series:
    """ISO 8601 event times with the zone's offset, from the time column."""
    blank = _blank(column)
    empty = blank & reasons.map(_missing)
    for index in empty[empty].index:
        reasons[index] = f"column {spec.column!r} is empty: the row has no event time"
    text = column.astype("string").str.strip().where(~blank)
    if spec.format in ("epoch_s", "epoch_ms"):
        unit = "s" if spec.format == "epoch_s" else "ms"
        stamps = pd.to_datetime(pd.to_numeric(text, errors="coerce"), unit=unit, utc=True)
    else:
        stamps = _parsed(text, spec.format)
    like = f"like {spec.format!r}" if spec.format and "%" in spec.format else "in ISO 8601"
    _reject(reasons, ~blank & stamps.isna(), column, f"is not a time {like}", spec.column)
    zone = _zone(spec.zone)
    if stamps.dt.tz is None:
        local = stamps.dt.tz_localize(zone, ambiguous="NaT", nonexistent="NaT")
        what = f"is a local time {spec.zone} skips or repeats (a clock change)"
        _reject(reasons, stamps.notna() & local.isna(), column, what, spec.column)
    else:
        local = stamps.dt.tz_convert(zone)
    whole = local.dt.strftime("%Y-%m-%dT%H:%M:%S%z")
    fraction = local.dt.strftime("%Y-%m-%dT%H:%M:%S.%f%z")
    text_ts = whole.where(local.dt.microsecond == 0, fraction)
    return text_ts.str.replace(_OFFSET, r"\1:\2", regex=True).where(local.notna())


def _parsed(text: pd.Series, fmt: str | None) -> pd.Series:
    """Times as written: naive when the text has no offset, aware (UTC) when it has one."""
    sample = text.dropna()
    aware = bool(len(sample)) and bool(sample.str.contains(r"(?:Z|[+-]\d{2}:?\d{2})$").all())
    return pd.to_datetime(
        text, format=fmt or "ISO8601", errors="coerce", utc=aware if fmt is None else None
    )


def _ids(columns: pd.DataFrame) -> pd.Series:
    cells = columns.astype("string").fillna("")
    ids = [stable_id(*values, prefix="src-") for values in cells.itertuples(index=False)]
    return pd.Series(ids, index=columns.index, dtype="object")


# ----------------------------------------------------------------------------- sources


def _source_chunks(
    path: Path, chunksize: int, encoding: str
) -> Iterator[tuple[np.ndarray, pd.DataFrame]]:
    """``(row numbers, cells)`` chunk by chunk: CSV cells as text, as the file has them."""
    kind = file_format(path)
    if kind == "parquet":
        start = 1
        for batch in pq.ParquetFile(path).iter_batches(batch_size=chunksize):
            frame = batch.to_pandas()
            yield np.arange(start, start + len(frame)), frame
            start += len(frame)
        return
    reader = _csv_rows(path, encoding) if kind == "csv" else _jsonl_rows(path, encoding)
    while chunk := list(itertools.islice(reader, chunksize)):
        numbers = np.fromiter((n for n, _ in chunk), dtype=np.int64, count=len(chunk))
        yield numbers, pd.DataFrame([cells for _, cells in chunk]).astype("object")


def _csv_rows(path: Path, encoding: str) -> Iterator[tuple[int, dict[str, Any]]]:
    with open_file(path, "rb") as raw:
        text = (line.decode("utf-8-sig" if encoding == "utf-8" else encoding) for line in raw)
        reader = csv.reader(text)
        header = next(reader, [])
        number = 0
        for cells in reader:
            if not cells:
                continue
            number += 1
            if len(cells) != len(header):
                reason = f"row has {len(cells)} fields, the header has {len(header)}"
                yield number, dict.fromkeys(header, "") | {_REASON: reason, _CELLS: cells}
                continue
            yield number, dict(zip(header, cells, strict=True))


def _jsonl_rows(path: Path, encoding: str) -> Iterator[tuple[int, dict[str, Any]]]:
    with open_file(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                value = orjson.loads(raw.decode(encoding).removeprefix("\ufeff"))
            except (orjson.JSONDecodeError, UnicodeDecodeError) as exc:
                yield number, {_REASON: f"bad JSON on line {number}: {exc}"}
                continue
            if not isinstance(value, dict):
                yield number, {_REASON: f"line {number} is not a JSON object"}
                continue
            yield number, value


# ----------------------------------------------------------------------------- loading


def load_mapping(path: str | Path) -> Mapping:
    """Parse a mapping file; a mistake is a :class:`MappingError` at ``file:line:col``."""
    path = Path(path)
    if not path.is_file():
        raise MappingError(f"mapping file {path} not found")
    try:
        doc = load_located(path.read_text(encoding="utf-8"), str(path))
    except RuleError as exc:
        raise MappingError(exc.message, str(path), exc.line) from None
    if not isinstance(doc, dict):
        raise MappingError("a mapping file is a YAML mapping with 'columns' and 'time'", str(path))
    try:
        return Mapping.model_validate(doc)
    except ValidationError as exc:
        error = exc.errors()[0]
        line, where = _locate(doc, (*error["loc"], *_QUOTED.findall(str(error["msg"]))[:1]))
        message = str(error["msg"]).removeprefix("Value error, ")
        raise MappingError(f"{where}: {message}", str(path), line) from None


def _locate(doc: Any, loc: tuple[Any, ...]) -> tuple[int | None, str]:
    """The line of the deepest key of ``loc`` the file has, and the path as text."""
    line, node, names = getattr(doc, "pos", (None,))[0], doc, []
    for part in loc:
        if isinstance(node, dict) and part in node:
            line = getattr(node, "key_pos", {}).get(part, (line,))[0]
            node = node[part]
            if part not in names:
                names.append(str(part))
        elif isinstance(part, str) and part not in ("str", "Column", *names):
            names.append(part)
    return line, ".".join(names) or "mapping"
