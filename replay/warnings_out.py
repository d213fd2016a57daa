"""Write a backtest's warnings to a file, one row each, so two runs can be compared.

The format comes from the file name: ``.jsonl`` holds one JSON object a line, the whole
warning as :meth:`RiskWarning.to_json` gives it plus ``ts`` (its event time in ISO 8601);
``.csv`` and ``.parquet`` hold flat columns (:data:`COLUMNS`), ``tags``, ``evidence`` and
``details`` as JSON text.

>>> warnings_format("run.parquet"), warnings_format("RUN.JSONL")
('parquet', 'jsonl')
>>> warnings_format("run.txt")
Traceback (most recent call last):
...
replay.warnings_out.WarningsOutError: --warnings-out 'run.txt': unsupported extension; ...
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

import orjson

from envelope.errors import UserError
from envelope.events import RiskWarning

FORMATS = {".jsonl": "jsonl", ".csv": "csv", ".parquet": "parquet"}
SUPPORTED = ".jsonl, .csv or .parquet"
# The flat columns of .csv and .parquet, in this order.
COLUMNS = (
    "id",
    "rule_id",
    "severity",
    "ts",
    "ts_ms",
    "region",
    "department",
    "key",
    "stage",
    "value",
    "title",
    "fingerprint",
    "rule_version",
    "logic_hash",
    "window_start_ms",
    "window_end_ms",
    "summary",
    "tags",
    "evidence",
    "details",
)
_JSON_TEXT = ("tags", "evidence", "details")
_NULLABLE_INT = ("window_start_ms", "window_end_ms")


class WarningsOutError(UserError, ValueError):
    """A ``--warnings-out`` file whose extension names no supported format."""


def warnings_format(path: str | Path) -> str:
    """``"jsonl"``, ``"csv"`` or ``"parquet"`` from the extension; anything else is refused."""
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise WarningsOutError(
            f"--warnings-out {str(path)!r}: unsupported extension; use {SUPPORTED}"
        )
    return fmt


def iso_time(ts_ms: int, tz: tzinfo = UTC) -> str:
    """Event time in ISO 8601 with milliseconds, at the offset ``tz``.

    >>> iso_time(1_772_409_600_000)
    '2026-03-02T00:00:00.000+00:00'
    """
    return datetime.fromtimestamp(ts_ms / 1000, tz).isoformat(timespec="milliseconds")


def offset_tz(offset: str) -> tzinfo:
    """The fixed offset ``"+08:00"`` (a backtest report's ``tz``) as a ``tzinfo``.

    >>> offset_tz("+08:00").utcoffset(None)
    datetime.timedelta(seconds=28800)
    """
    parsed = datetime.fromisoformat(f"2000-01-01T00:00:00{offset}").tzinfo
    return parsed or UTC


def warning_record(warning: RiskWarning, tz: tzinfo = UTC) -> dict[str, Any]:
    """The whole warning (``to_dict``) with ``ts``, its event time in ISO 8601, after ``ts_ms``."""
    record: dict[str, Any] = {}
    for name, value in warning.to_dict().items():
        record[name] = value
        if name == "ts_ms":
            record["ts"] = iso_time(value, tz)
    return record


def write_warnings(warnings: Sequence[RiskWarning], path: str | Path, tz: tzinfo = UTC) -> int:
    """Write ``warnings`` to ``path`` in the format its extension names; returns the rows."""
    path = Path(path)
    fmt = warnings_format(path)
    records = [warning_record(w, tz) for w in warnings]
    if fmt == "jsonl":
        with open(path, "wb") as f:
            for record in records:
                f.write(orjson.dumps(record) + b"\n")
        return len(records)
    frame = flat_frame(records)
    if fmt == "csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False, engine="pyarrow")
    return len(records)


def flat_frame(records: list[dict[str, Any]]) -> Any:
    """The flat columns (:data:`COLUMNS`) of :func:`warning_record` dicts as a DataFrame."""
    import pandas as pd

    rows = [
        {c: orjson.dumps(r[c]).decode() if c in _JSON_TEXT else r[c] for c in COLUMNS}
        for r in records
    ]
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    for column in _NULLABLE_INT:  # None stays empty instead of turning the column to floats
        frame[column] = frame[column].astype("Int64")
    frame["ts_ms"] = frame["ts_ms"].astype("int64")
    frame["rule_version"] = frame["rule_version"].astype("int64")
    frame["value"] = frame["value"].astype("float64")
    return frame
