"""How a batch of warnings goes to the upsert script (``clues/lua/upsert.lua``).

The warnings are grouped by fingerprint (first appearance first, each group in batch order),
so the many warnings of one clue in a batch are one step in Redis: one read of the clue, one
write, one audit entry and one outbox record, however many warnings it carries. The script
still marks every warning id seen one by one, so counts stay exact under re-sends.

Groups go to ``lanes`` by a stable hash of their fingerprint, and each lane's groups into
script calls of at most ``chunk`` warnings (a group bigger than that is cut into pieces, kept
in order in its lane; a lane's pieces go in the order of their first warning). The store
sends each lane as a pipeline of its own, the lanes at once, so Redis works on one lane while
the client prepares the next, and serves both in one turn of its event loop (one fsync of the
append-only file for both).

A warning's content (title, summary, evidence, ...) is an argument of its own, decoded by the
script only for the newest new warning of its group.

>>> from envelope.events import RiskWarning
>>> def w(i, fp):
...     return RiskWarning(id=f"w{i}", fingerprint=fp, rule_id="r", rule_version=1,
...                        logic_hash="h", severity="low", title="t", key="k",
...                        ts_ms=i, region="330106", department="d")
>>> batch = [w(0, "a"), w(1, "b"), w(2, "a")]
>>> (lane,) = lanes_of(batch, chunk=200, lanes=1)
>>> (call,) = lane.calls(batch, chunk=200)
>>> [(fp, [row[0] for row in rows]) for fp, _, rows in call.groups]
[('a', ['w0', 'w2']), ('b', ['w1'])]
>>> call.slots  # where each row's result goes in the batch
[0, 2, 1]
>>> batch = [w(i, "a") for i in range(5)]
>>> [len(c.slots) for c in lanes_of(batch, chunk=2, lanes=1)[0].calls(batch, chunk=2)]
[2, 2, 1]
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from clues.model import severity_rank
from envelope.events import RiskWarning

FIRST_CONTENT_ARG = 3  # ARGV[1] is the key prefix, ARGV[2] the groups


def _num(v: object) -> str:
    return "" if v is None else repr(v) if isinstance(v, float) else str(v)


def identity(w: RiskWarning) -> list[str]:
    """The fields a clue takes from the warning that opens it, as name, value, name, ..."""
    return [
        *("rule_id", w.rule_id, "rule_version", str(w.rule_version)),
        *("logic_hash", w.logic_hash, "key", w.key),
        *("region", w.region, "department", w.department),
    ]


def content(w: RiskWarning) -> bytes:
    """The fields a clue takes from its newest warning by event time, as a JSON array."""
    return orjson.dumps(
        [
            *("title", w.title, "stage", w.stage, "value", _num(w.value)),
            *("summary", w.summary),
            *("evidence", orjson.dumps(list(w.evidence)).decode()),
            *("tags", orjson.dumps(list(w.tags)).decode()),
            *("details", orjson.dumps(w.details).decode() if w.details else ""),
            *("window_start_ms", _num(w.window_start_ms)),
            *("window_end_ms", _num(w.window_end_ms)),
            *("last_warning_id", w.id),
        ]
    )


@dataclass
class Call:
    """One upsert script call: its groups, the content arguments, and the batch position of
    each row (the script answers one result per row, in this order)."""

    groups: list[list[Any]] = field(default_factory=list)
    contents: list[bytes] = field(default_factory=list)
    slots: list[int] = field(default_factory=list)

    def add(self, warnings: Sequence[RiskWarning], positions: Sequence[int]) -> None:
        """A group: warnings of one fingerprint at these batch positions."""
        rows = []
        for i in positions:
            w = warnings[i]
            rank = severity_rank(w.severity)
            n = FIRST_CONTENT_ARG + len(self.contents)
            rows.append([w.id, str(w.ts_ms), str(rank), w.severity, n])
            self.contents.append(content(w))
        first = warnings[positions[0]]
        self.groups.append([first.fingerprint, identity(first), rows])
        self.slots.extend(positions)

    def args(self, prefix: str) -> list[str | bytes]:
        return [prefix, orjson.dumps(self.groups), *self.contents]


@dataclass
class Lane:
    """The groups of one lane, cut into calls when the lane is sent."""

    pieces: list[list[int]] = field(default_factory=list)

    def calls(self, warnings: Sequence[RiskWarning], chunk: int) -> list[Call]:
        out: list[Call] = []
        for piece in self.pieces:
            if not out or len(out[-1].slots) + len(piece) > chunk:
                out.append(Call())
            out[-1].add(warnings, piece)
        return out


def lanes_of(warnings: Sequence[RiskWarning], chunk: int, lanes: int) -> list[Lane]:
    """The batch's groups by lane (lanes without a group left out)."""
    if chunk < 1:
        raise ValueError(f"chunk={chunk!r}: at least 1 warning per script call")
    if lanes < 1:
        raise ValueError(f"lanes={lanes!r}: at least 1 pipeline")
    groups: dict[str, list[int]] = {}
    for i, w in enumerate(warnings):
        groups.setdefault(w.fingerprint, []).append(i)
    out = [Lane() for _ in range(lanes)]
    for fp, positions in groups.items():
        lane = out[zlib.crc32(fp.encode()) % lanes] if lanes > 1 else out[0]
        for lo in range(0, len(positions), chunk):
            lane.pieces.append(positions[lo : lo + chunk])
    for lane in out:  # in the batch's order (one warning a call: exactly the batch's order)
        lane.pieces.sort(key=lambda piece: piece[0])
    return [lane for lane in out if lane.pieces]
