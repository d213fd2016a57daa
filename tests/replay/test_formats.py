"""Event files: round trips in every format, type safety, and bad rows reported in place."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from replay.formats import FormatError, read_events, write_events

FORMATS = [
    "events.jsonl",
    "events.json",
    "events.csv",
    "events.parquet",
    "events.jsonl.gz",
    "events.csv.gz",
]


def _sample(make_event: Any) -> list[dict[str, Any]]:
    return [
        make_event(1, region="330106", item="food-license", deadline_days=20, channel="online"),
        make_event(2, region="0571", application_id="12345", amount=12.5, urgent=True),
        make_event(3, ts="2026-03-02T01:15:00Z", note="", tags=["a", "b"], extra={"k": 1}),
        make_event(
            4, stream="regulatory", etype="inspection.finding", code="true", deadline_days=7
        ),
        make_event(5),
    ]


@pytest.mark.parametrize("name", FORMATS)
def test_write_then_read_gives_equal_envelopes(tmp_path: Path, make_event: Any, name: str) -> None:
    events = _sample(make_event)
    path = tmp_path / name
    assert write_events(events, path) == len(events)
    rows = list(read_events(path))
    assert [r[0] for r in rows] == [1, 2, 3, 4, 5]
    assert [r[2] for r in rows] == [None] * 5
    assert [r[1] for r in rows] == events
    # Types survive: zero-led region stays text, an int attr stays int, a numeric id text.
    assert rows[1][1]["region"] == "0571"
    assert rows[0][1]["attrs"]["deadline_days"] == 20
    assert rows[1][1]["attrs"]["application_id"] == "12345"


@pytest.mark.parametrize("name", ["events.csv", "events.parquet"])
def test_one_shot_generator_is_written_like_a_list(
    tmp_path: Path, make_event: Any, name: str
) -> None:
    events = _sample(make_event)
    path = tmp_path / name
    assert write_events(iter(events), path) == 5
    assert [r[1] for r in read_events(path)] == events
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no spool file left behind


def test_csv_is_flat_with_one_column_per_attribute(tmp_path: Path, make_event: Any) -> None:
    path = tmp_path / "events.csv"
    write_events(
        [make_event(1, item="food-license", deadline_days=20), make_event(2, channel="hall")], path
    )
    with path.open(newline="") as f:
        header, first, second = list(csv.reader(f))
    assert header == [
        "id", "type", "stream", "ts", "source", "region", "department", "entity.kind", "entity.id",
        "attrs.item", "attrs.deadline_days", "attrs.channel",
    ]  # fmt: skip
    assert first[5] == "330106" and first[9:] == ["food-license", "20", ""]
    assert second[9:] == ["", "", "hall"]


def test_parquet_columns_are_typed(tmp_path: Path, make_event: Any) -> None:
    path = tmp_path / "events.parquet"
    write_events([make_event(1, deadline_days=20), make_event(2, region="0571")], path)
    schema = pq.read_schema(path)
    assert schema.field("region").type == pa.string()
    assert schema.field("attrs.deadline_days").type == pa.int64()


def test_parquet_is_read_in_batches_in_order(tmp_path: Path, make_event: Any) -> None:
    path = tmp_path / "events.parquet"
    events = [make_event(i, seq=i) for i in range(1, 121)]
    write_events(events, path)
    rows = list(read_events(path, chunksize=50))
    assert [r[0] for r in rows] == list(range(1, 121))
    assert [r[1] for r in rows] == events


def test_hand_written_csv_reads_numbers_as_numbers_and_codes_as_text(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(
        "\ufeffid,type,stream,ts,source,region,department,entity.kind,entity.id,"
        "attrs.deadline_days,attrs.window,attrs.office\n"
        "e1,application.accepted,service,2026-03-02T09:15:00+08:00,portal,0571,tax,person,"
        "0012,15,0800,\n",
        encoding="utf-8",
    )
    [(row, envelope, reason, original)] = list(read_events(path))
    assert (row, reason) == (1, None)
    assert envelope["region"] == "0571" and envelope["entity"] == {"kind": "person", "id": "0012"}
    assert envelope["attrs"] == {"deadline_days": 15, "window": "0800"}  # empty office dropped
    assert original["attrs.office"] == ""


JSONL_WITH_BAD_ROWS = [
    '{"id":"e1","type":"a.b","stream":"service","ts":"2026-03-02T09:15:00+08:00","source":"s",'
    '"region":"330106","department":"d","entity":{"kind":"k","id":"i"},"attrs":{}}',
    '{"id":"e2","stream":"service","ts":"2026-03-02T09:15:00+08:00","source":"s",'
    '"region":"330106","department":"d","entity":{"kind":"k","id":"i"}}',
    "",
    '{"id":"e3","type":"a.b","stream":"service","ts":"2026-03-02 09:15","source":"s",'
    '"region":"330106","department":"d","entity":{"kind":"k","id":"i"}}',
    '{"id":"e4","type":"a.b","stream":"billing","ts":"2026-03-02T09:15:00+08:00","source":"s",'
    '"region":"330106","department":"d","entity":{"kind":"k","id":"i"}}',
    "this is not json",
    '{"id":"e5","type":"a.b","stream":"regulatory","ts":"2026-03-02T09:16:00+08:00","source":"s",'
    '"region":"330106","department":"d","entity":{"kind":"k","id":"i"},"attrs":{"n":1}}',
]


def test_jsonl_bad_rows_are_reported_with_line_and_reason(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(JSONL_WITH_BAD_ROWS) + "\n")
    rows = list(read_events(path))
    good = [(r[0], r[1]["id"]) for r in rows if r[1] is not None]
    bad = {r[0]: r[2] for r in rows if r[1] is None}
    assert good == [(1, "e1"), (7, "e5")]
    assert set(bad) == {2, 4, 5, 6}
    assert bad[2] == "missing field 'type'"
    assert bad[4].startswith("bad timestamp '2026-03-02 09:15'")
    assert bad[5].startswith("unknown stream 'billing'")
    assert bad[6].startswith("bad JSON on line 6")
    assert [r[3] for r in rows if r[0] == 6] == ["this is not json"]


def test_csv_bad_rows_are_reported_with_row_and_reason(tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    head = "id,type,stream,ts,source,region,department,entity.kind,entity.id,attrs.n\n"
    path.write_text(
        head
        + "e1,a.b,service,2026-03-02T09:15:00+08:00,s,330106,d,k,i,1\n"
        + "e2,,service,2026-03-02T09:15:00+08:00,s,330106,d,k,i,2\n"
        + "e3,a.b,service,yesterday,s,330106,d,k,i,3\n"
        + "e4,a.b,service,2026-03-02T09:15:00+08:00,s,330106,d,k,i,4,surplus\n"
        + "e5,a.b,regulatory,2026-03-02T09:15:00+08:00,s,330106,d,k,i,\n"
    )
    rows = list(read_events(path))
    assert [(r[0], r[1] and r[1]["id"], r[2]) for r in rows] == [
        (1, "e1", None),
        (2, None, "missing field 'type'"),
        (3, None, "bad timestamp 'yesterday': not ISO 8601, like '2026-03-02T09:15:00+08:00'"),
        (4, None, "row has 11 fields, the header has 10"),
        (5, "e5", None),
    ]
    assert rows[2][3]["ts"] == "yesterday"


def test_parquet_bad_rows_are_reported(tmp_path: Path, make_event: Any) -> None:
    good = make_event(1)
    path = tmp_path / "mixed.parquet"
    table = pa.table(
        {
            "id": ["e1", "e2"], "type": ["a.b", "a.b"], "stream": ["service", "nope"],
            "ts": [good["ts"], good["ts"]], "source": ["s", "s"], "region": ["330106", "330106"],
            "department": ["d", "d"], "entity.kind": ["k", "k"], "entity.id": ["i", "i"],
        }
    )  # fmt: skip
    pq.write_table(table, path)
    rows = list(read_events(path))
    assert rows[0][1]["entity"] == {"kind": "k", "id": "i"} and rows[0][2] is None
    assert rows[1][0] == 2 and rows[1][1] is None and rows[1][2].startswith("unknown stream 'nope'")


def test_csv_in_another_encoding_is_rejected_by_row_until_named(tmp_path: Path) -> None:
    path = tmp_path / "gbk.csv"
    text = (
        "id,type,stream,ts,source,region,department,entity.kind,entity.id,attrs.street\n"
        "e1,a.b,service,2026-03-02T09:15:00+08:00,s,330106,d,k,i,文三路\n"
        "e2,a.b,service,2026-03-02T09:15:00+08:00,s,330106,d,k,i,plain\n"
    )
    path.write_bytes(text.encode("gb18030"))
    rows = list(read_events(path))
    assert rows[0][1] is None and "encoding" in rows[0][2]
    assert rows[1][1] is not None and rows[1][1]["attrs"] == {"street": "plain"}
    rows = list(read_events(path, encoding="gb18030"))
    assert rows[0][1]["attrs"] == {"street": "文三路"}


def test_unknown_extension_names_the_supported_ones(tmp_path: Path) -> None:
    with pytest.raises(
        FormatError, match=r"unsupported file 'events.xlsx': use .jsonl, .json, .csv"
    ):
        read_events(tmp_path / "events.xlsx")
    with pytest.raises(FormatError, match="parquet"):
        write_events([], tmp_path / "events.txt")
