"""Column mappings: a file that is not in the envelope becomes events; rows that cannot be
mapped are rejects naming the row and the reason; a bad mapping names file:line."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from envelope.events import Event
from replay.frames import read_frame
from replay.mapping import MappingError, load_mapping

HOTLINE = """\
ticket_no,district,dept,created,category,minutes
T-1,330106,hotline-office,2026/03/02 09:15,noise,12
T-2,0571,hotline-office,2026/03/02 09:20,food,abc
T-3,330106,hotline-office,2026/13/02 09:20,food,3
T-4,330106,hotline-office,,food,3
T-5,330106,hotline-office,2026/03/02 10:00,food,4,extra
T-6,330102,hotline-office,2026/03/03 23:59,water,
"""
MAPPING = """\
columns:
  region: district
  department: dept
  entity.id: ticket_no
  attrs.category: category
  attrs.minutes: {column: minutes, type: int}
time:
  column: created
  format: "%Y/%m/%d %H:%M"
  zone: Asia/Shanghai
constants:
  type: hotline.ticket
  stream: service
  source: 12345-hotline
  entity.kind: ticket
id_from: [ticket_no]
"""


@pytest.fixture
def hotline(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "hot.csv").write_text(HOTLINE)
    (tmp_path / "hot.yaml").write_text(MAPPING)
    return tmp_path / "hot.csv", tmp_path / "hot.yaml"


def test_a_hotline_export_becomes_events_and_its_bad_rows_rejects(
    hotline: tuple[Path, Path],
) -> None:
    source, mapping = hotline
    rows = list(load_mapping(mapping).rows(source, chunksize=2))

    events = {row: Event.from_dict(env) for row, env, _, _, _ in rows if env is not None}
    assert sorted(events) == [1, 6]
    first = events[1]
    assert (first.type, first.stream, first.source) == (
        "hotline.ticket",
        "service",
        "12345-hotline",
    )
    assert (first.region, first.department, first.entity_kind, first.entity_id) == (
        "330106",
        "hotline-office",
        "ticket",
        "T-1",
    )
    assert first.ts == "2026-03-02T09:15:00+08:00"
    assert first.attrs == {"category": "noise", "minutes": 12}
    assert events[6].attrs == {"category": "water"}  # an empty cell is no attribute
    rejects = {row: reason for row, env, reason, _, _ in rows if env is None}
    assert rejects == {
        2: "column 'minutes' value 'abc' is not a whole number",
        3: "column 'created' value '2026/13/02 09:20' is not a time like '%Y/%m/%d %H:%M'",
        4: "column 'created' is empty: the row has no event time",
        5: "row has 7 fields, the header has 6",
    }


def test_ids_come_from_the_named_columns_so_a_resent_row_is_the_same_event(
    hotline: tuple[Path, Path], tmp_path: Path
) -> None:
    source, mapping = hotline
    other = tmp_path / "again.csv"
    other.write_text(HOTLINE.replace("noise,12", "noise,13"))  # same ticket, another cell
    ids = [
        {row: env["id"] for row, env, *_ in load_mapping(mapping).rows(path) if env is not None}
        for path in (source, other)
    ]
    assert ids[0] == ids[1]
    assert ids[0][1] != ids[0][6]


def test_a_mapped_file_reads_into_a_frame(hotline: tuple[Path, Path]) -> None:
    source, mapping = hotline
    frame, rejects = read_frame(source, mapping=mapping)
    assert list(frame["entity.id"]) == ["T-1", "T-6"]
    assert frame["ts"].iloc[1] == pd.Timestamp("2026-03-03T23:59:00+08:00")
    assert frame["attrs.minutes"].dtype == "Int64"
    assert list(rejects["row"]) == [2, 3, 4, 5]


def test_epoch_times_json_lines_and_a_zone_offset(tmp_path: Path) -> None:
    source = tmp_path / "feed.jsonl"
    source.write_text(
        '{"seq": 1, "at": 1772414100, "org": "91330106X", "area": "330106"}\n'
        '{"seq": 2, "org": "91330106Y", "area": "330106"}\n'
    )
    mapping = tmp_path / "feed.yaml"
    mapping.write_text(
        "columns: {id: seq, region: area, entity.id: org}\n"
        "time: {column: at, format: epoch_s, zone: '+08:00'}\n"
        "constants: {type: filing.submitted, stream: regulatory, source: feed,"
        " department: market-supervision, entity.kind: enterprise}\n"
    )
    rows = list(load_mapping(mapping).rows(source))
    assert rows[0][1] is not None and rows[0][1]["ts"] == "2026-03-02T09:15:00+08:00"
    assert rows[0][1]["id"] == "1"
    assert rows[1][2] == "column 'at' is empty: the row has no event time"


def test_a_local_time_the_clock_change_skips_is_a_reject(tmp_path: Path) -> None:
    source = tmp_path / "dst.csv"
    source.write_text("n,t\n1,2026-03-08 02:30:00\n2,2026-03-08 03:30:00\n")
    mapping = tmp_path / "dst.yaml"
    mapping.write_text(
        "columns: {id: n}\ntime: {column: t, zone: America/New_York}\n"
        "constants: {type: a.b, stream: service, source: s, region: '330106', department: d,"
        " entity.kind: k, entity.id: e}\n"
    )
    rows = list(load_mapping(mapping).rows(source))
    assert "skips or repeats" in str(rows[0][2])
    assert rows[1][1] is not None and rows[1][1]["ts"] == "2026-03-08T03:30:00-04:00"


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("columns: {region: a}\ntime:\n  column: t\n  zone: Mars/Base\n", 4, "unknown zone"),
        ("columns:\n  region: a\n  ts: b\ntime: {column: t, zone: UTC}\n", 3, "comes from 'time:'"),
        ("columns:\n  regio: a\ntime: {column: t, zone: UTC}\n", 2, "no envelope field"),
        ("columns: {region: a}\n", 1, "time: Field required"),
        ("time: {column: t, zone: UTC, fmt: x}\n", 1, "time.fmt: Extra inputs"),
        ("columns: {region: a}\ncolumns: {}\n", 2, "duplicate key 'columns'"),
    ],
)
def test_a_bad_mapping_names_the_file_and_line(
    tmp_path: Path, text: str, line: int, message: str
) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(text)
    with pytest.raises(MappingError) as caught:
        load_mapping(path)
    assert str(caught.value).startswith(f"{path}:{line}:")
    assert message in str(caught.value)


def test_a_column_the_source_lacks_stops_before_any_row(
    hotline: tuple[Path, Path], tmp_path: Path
) -> None:
    source, _ = hotline
    mapping = tmp_path / "m.yaml"
    mapping.write_text(MAPPING.replace("column: created", "column: opened"))
    with pytest.raises(MappingError, match="no column 'opened' named by the mapping; the file has"):
        next(load_mapping(mapping).rows(source))


def test_the_readme_mapping_maps_the_export_as_written(
    hotline: tuple[Path, Path], tmp_path: Path
) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = re.search(r"```yaml\n(columns:.*?)```", readme, re.S)
    assert block, "the README shows a column mapping"
    (tmp_path / "readme.yaml").write_text(block.group(1))
    source, mapping = hotline
    assert list(load_mapping(tmp_path / "readme.yaml").rows(source)) == list(
        load_mapping(mapping).rows(source)
    )
