"""What a replay reads: files, folders and globs; which rows it keeps; how fast; where it
resumes after a crash.

* :func:`expand` turns ``day1.jsonl data/ 'march/*.csv.gz'`` into the files to read, in
  order: a folder gives every event file directly inside it, sorted by name.
* :class:`RowFilter` keeps the events in an event-time window ``[since_ms, until_ms)`` and of
  the given types (``application.*`` patterns too); the others are skipped, not rejected.
* :class:`Pacer` replays event time ``speed`` times faster; :class:`RateLimit` spaces
  events to at most ``rate`` a second, anchored on the first.
* :class:`Checkpoint` remembers, per file, the last row up to which everything is settled
  (published and acknowledged, rejected or skipped); a new run with the same checkpoint
  starts each file after that row and skips a finished file. It is saved about once a second
  by replacing the file whole, so a crash loses at most the last second's record, and those
  few events are sent again: their ids make the workers drop the second copy.
"""

from __future__ import annotations

import glob
import gzip
import os
import struct
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, TypeVar

import orjson
import pyarrow.parquet as pq

from envelope.errors import UserError
from replay.formats import FormatError, ParsedRow, file_format, read_rows


class SourceError(UserError, ValueError):
    """A source that names no file, or a checkpoint that cannot be used."""


def expand(sources: str | Path | Sequence[str | Path]) -> list[Path]:
    """The event files a list of files, folders and glob patterns names, in order."""
    items = [sources] if isinstance(sources, str | Path) else list(sources)
    files: list[Path] = []
    for item in items:
        text = str(item)
        if glob.has_magic(text):
            found = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
            if not found:
                raise SourceError(f"no file matches {text!r}")
            files += found
        elif Path(text).is_dir():
            found = sorted(p for p in Path(text).iterdir() if p.is_file() and _supported(p))
            if not found:
                raise SourceError(f"no event file (.jsonl, .csv, .parquet, .gz) in {text}")
            files += found
        else:
            file_format(text)  # an unsupported name is refused as such, present or not
            if not Path(text).is_file():
                raise SourceError(f"no such file: {text}")
            files.append(Path(text))
    for path in files:
        file_format(path)  # an unsupported name in a glob or a list: refuse it before sending
    return list(dict.fromkeys(files))


def _supported(path: Path) -> bool:
    try:
        file_format(path)
    except FormatError:
        return False
    return not path.name.endswith((".rejects.jsonl", ".labels.jsonl"))


def rows_of(path: Path, mapping: Any = None, encoding: str = "utf-8") -> Iterator[ParsedRow]:
    """The rows of one file: an event file as it is, or a source file through ``mapping``."""
    if mapping is not None:
        return iter(mapping.rows(path, encoding=encoding))
    return read_rows(path, encoding=encoding)


def estimated_rows(path: Path) -> int | None:
    """About how many rows a file holds, for a progress bar's ETA: Parquet's own count, the
    line count of a text file, and for gzip the uncompressed size over the first lines'."""
    if file_format(path) == "parquet":
        return int(pq.ParquetFile(path).metadata.num_rows)
    if path.name.lower().endswith(".gz"):
        with gzip.open(path, "rb") as f:
            head = f.read(1 << 20)
        with path.open("rb") as raw:
            raw.seek(-4, os.SEEK_END)
            (size,) = struct.unpack("<I", raw.read(4))
        lines = head.count(b"\n")
        count = 0 if not lines else max(lines, int(size / (len(head) / lines)))
    else:
        count = 0
        with path.open("rb") as f:
            while block := f.read(1 << 20):
                count += block.count(b"\n")
    return max(0, count - 1) if file_format(path) == "csv" else count


@dataclass(frozen=True)
class RowFilter:
    """Events kept: within ``[since_ms, until_ms)`` of event time and of ``types`` (patterns
    with ``*``); None keeps everything on that side.

    >>> f = RowFilter(since_ms=100, types=("application.*",))
    >>> f.keeps(100, "application.submitted"), f.keeps(99, "application.submitted")
    (True, False)
    >>> f.keeps(200, "hotline.ticket")
    False
    """

    since_ms: int | None = None
    until_ms: int | None = None
    types: tuple[str, ...] | None = None

    def keeps(self, ts_ms: int, etype: str) -> bool:
        """Whether an event of this time and type is replayed."""
        if self.since_ms is not None and ts_ms < self.since_ms:
            return False
        if self.until_ms is not None and ts_ms >= self.until_ms:
            return False
        return self.types is None or any(fnmatchcase(etype, t) for t in self.types)

    @property
    def active(self) -> bool:
        return (self.since_ms, self.until_ms, self.types) != (None, None, None)


class Pacer:
    """Wall-clock delays that replay event time ``speed`` times faster.

    The schedule is anchored on the first event, so sleeping late never accumulates drift;
    events earlier than the latest one go out at once.

    >>> p = Pacer(speed=60.0)
    >>> p.delay_s(ts_ms=1_000_000, now_s=100.0)
    0.0
    >>> p.delay_s(ts_ms=1_000_000 + 3_600_000, now_s=100.5)   # an hour later, at 60x
    59.5
    >>> p.delay_s(ts_ms=900_000, now_s=101.0)
    0.0
    """

    def __init__(self, speed: float) -> None:
        self.speed = speed
        self._origin: tuple[int, float] | None = None

    def delay_s(self, ts_ms: int, now_s: float) -> float:
        if self._origin is None:
            self._origin = (ts_ms, now_s)
            return 0.0
        first_ts_ms, first_s = self._origin
        due_s = first_s + (ts_ms - first_ts_ms) / 1000.0 / self.speed
        return max(0.0, due_s - now_s)


class RateLimit:
    """Wall-clock delays that keep a replay at most ``rate`` events a second.

    >>> r = RateLimit(1000.0)
    >>> r.delay_s(now_s=10.0), r.delay_s(now_s=10.0)
    (0.0, 0.001)
    >>> r.delay_s(now_s=11.0)  # fell behind: no wait, and no burst to catch up beyond due
    0.0
    """

    def __init__(self, rate: float) -> None:
        if not rate > 0:
            raise SourceError(f"rate must be a positive number of events a second, got {rate!r}")
        self.step_s = 1.0 / rate
        self._due_s: float | None = None

    def delay_s(self, now_s: float) -> float:
        """The wait before the next event may go; each call counts one event."""
        if self._due_s is None or self._due_s < now_s:
            self._due_s = now_s
        delay = self._due_s - now_s
        self._due_s += self.step_s
        return round(delay, 9)


class Settled:
    """The rows of one file in read order, each settled at once or when its record is
    acknowledged; ``row`` is the last row up to which all are settled.

    >>> s = Settled(); a, b = Handle(), Handle()
    >>> s.wait(1, a); s.wait(2, b); s.now(3); s.advance(), s.row
    (False, 0)
    >>> b.ok = True; s.advance(), s.row
    (False, 0)
    >>> a.ok = True; s.advance(), s.row
    (True, 3)
    """

    def __init__(self, row: int = 0) -> None:
        self.row = row
        self._pending: deque[list[Any]] = deque()

    def wait(self, row: int, handle: Handle) -> None:
        if self._pending and self._pending[-1][1] is handle:
            self._pending[-1][0] = row
        else:
            self._pending.append([row, handle])

    def now(self, row: int) -> None:
        if not self._pending:
            self.row = row
        elif self._pending[-1][1] is None:
            self._pending[-1][0] = row
        else:
            self._pending.append([row, None])

    @property
    def pending(self) -> bool:
        """Some row still waits for its record's acknowledgement."""
        return bool(self._pending)

    def advance(self) -> bool:
        """Move ``row`` past every settled row at the front; True if it moved."""
        before = self.row
        while self._pending and (self._pending[0][1] is None or self._pending[0][1].ok):
            self.row = self._pending.popleft()[0]
        return self.row != before


class Handle:
    """A record's fate: ``ok`` once the broker acknowledged it."""

    __slots__ = ("ok",)

    def __init__(self) -> None:
        self.ok = False


class Checkpoint:
    """``{file: {"row": last settled row, "done": bool}}`` in a JSON file, replaced whole."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.files: dict[str, dict[str, Any]] = {}
        if self.path.exists():
            try:
                self.files = dict(orjson.loads(self.path.read_bytes())["files"])
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                raise SourceError(
                    f"checkpoint {self.path} is not a replay checkpoint: remove it to start over"
                ) from None
        elif not self.path.parent.is_dir():
            raise SourceError(f"no folder {self.path.parent} for the checkpoint {self.path.name}")

    @staticmethod
    def key(path: Path) -> str:
        return str(path.resolve())

    def start(self, path: Path) -> tuple[int, bool]:
        """``(last settled row, finished)`` of a file in an earlier run; ``(0, False)`` if new."""
        entry = self.files.get(self.key(path), {})
        return int(entry.get("row", 0)), bool(entry.get("done", False))

    def record(self, path: Path, row: int, done: bool = False) -> None:
        self.files[self.key(path)] = {"row": row, "done": done}

    def save(self) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_bytes(orjson.dumps({"files": self.files}, option=orjson.OPT_INDENT_2))
        os.replace(tmp, self.path)


_Row = TypeVar("_Row", bound=tuple[Any, ...])


def after(rows: Iterable[_Row], row: int) -> Iterator[_Row]:
    """The rows past ``row`` (a resumed file)."""
    return (r for r in rows if r[0] > row)
