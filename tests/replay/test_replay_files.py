"""Replaying many files to a real broker (Tansu): folders, globs and gzip, an event-time window
and types, a rate, batched messages, a column mapping, and resuming from a checkpoint after a
stop or a kill without losing or doubling events."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from envelope.partitioning import partition_for
from envelope.topics import TOPIC_REGULATORY, TOPIC_SERVICE
from replay.formats import write_events
from replay.publish import publish
from replay.sources import RowFilter
from riskloop.cli import main

ROOT = Path(__file__).resolve().parents[2]


async def _consume(bootstrap: str, topics: tuple[str, ...]) -> list[Any]:
    """Every record on ``topics`` from the beginning up to their current end."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()
        parts = [
            TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t))
        ]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        end = await consumer.end_offsets(parts)
        records: list[Any] = []
        while [tp for tp in parts if await consumer.position(tp) < end[tp]]:
            for batch in (await consumer.getmany(timeout_ms=1000)).values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()


def _events_of(bootstrap: str, tag: str) -> tuple[list[dict[str, Any]], list[Any]]:
    """This test's events (a batch counts as its events) and the records carrying them."""
    events, records = [], []
    for record in asyncio.run(_consume(bootstrap, (TOPIC_SERVICE, TOPIC_REGULATORY))):
        value = orjson.loads(record.value)
        batch = value if isinstance(value, list) else [value]
        ours = [e for e in batch if e["id"].startswith(tag)]
        if ours:
            events += ours
            records.append(record)
    return events, records


def _day(make_event: Any, tag: str, day: int, n: int, **kw: Any) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        e = make_event(
            i,
            ts=f"2026-03-{day:02d}T09:{i // 60:02d}:{i % 60:02d}+08:00",
            region=f"3301{i % 7:02d}",
            etype="data.access" if i % 3 == 0 else "application.submitted",
            **kw,
        )
        e["id"] = f"{tag}-d{day}-{i}"
        out.append(e)
    return out


def test_a_folder_a_glob_and_gzip_with_a_window_and_types(
    tansu: Any, tmp_path: Path, make_event: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    tag = f"many-{uuid.uuid4().hex[:8]}"
    folder = tmp_path / "march"
    folder.mkdir()
    write_events(_day(make_event, tag, 2, 30), folder / "02.jsonl.gz")
    write_events(_day(make_event, tag, 3, 30), folder / "03.csv.gz")
    write_events(_day(make_event, tag, 4, 30), folder / "04.parquet")
    (folder / "notes.txt").write_text("not events")
    extra = tmp_path / "05.jsonl"
    write_events(_day(make_event, tag, 5, 30), extra)

    code = main(
        ["replay", str(folder), str(tmp_path / "0*.jsonl"), "--bootstrap", tansu.bootstrap]
        + ["--from", "2026-03-03", "--to", "2026-03-04", "--types", "application.*", "--quiet"]
    )

    assert code == 0
    printed = capsys.readouterr().out
    sent, _ = _events_of(tansu.bootstrap, tag)
    expected = [
        e["id"]
        for d in (3, 4)
        for e in _day(make_event, tag, d, 30)
        if e["type"] == "application.submitted"
    ]
    assert sorted(e["id"] for e in sent) == sorted(expected)
    assert "4 files" in printed and "read 120 rows, sent 40" in printed
    assert "skipped 80 events outside the time window or types" in printed


def test_batches_carry_up_to_n_events_of_one_partition_keyed_by_the_first(
    tansu: Any, tmp_path: Path, make_event: Any
) -> None:
    tag = f"batch-{uuid.uuid4().hex[:8]}"
    events = _day(make_event, tag, 2, 200)
    events[7]["stream"] = "regulatory"
    path = tmp_path / "day.jsonl"
    write_events(events, path)

    report = asyncio.run(publish(path, tansu.bootstrap, progress=False, batch=5, batch_bytes=2000))

    assert (report.sent, report.failed) == (200, 0)
    sent, records = _events_of(tansu.bootstrap, tag)
    assert Counter(e["id"] for e in sent) == Counter(e["id"] for e in events)  # each once
    assert report.records == len(records) < 200
    for record in records:
        batch = orjson.loads(record.value)
        assert isinstance(batch, list) and 1 <= len(batch) <= 5
        assert len(record.value) <= 2000
        assert record.key == batch[0]["region"].encode()
        assert {partition_for(e["region"].encode(), 4) for e in batch} == {record.partition}
        topic = {"service": TOPIC_SERVICE, "regulatory": TOPIC_REGULATORY}
        assert {topic[e["stream"]] for e in batch} == {record.topic}
    in_order = [
        e["id"]
        for r in sorted(records, key=lambda r: (r.topic, r.partition, r.offset))
        for e in orjson.loads(r.value)
        if r.topic == TOPIC_SERVICE and e["region"] == "330100"
    ]
    expected = [e["id"] for e in events if e["region"] == "330100" and e["stream"] == "service"]
    assert in_order == expected  # one key's events keep their file order


def test_a_mapped_file_replays_in_batches_from_the_command_line(
    tansu: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tag = f"map-{uuid.uuid4().hex[:8]}"
    source = tmp_path / "hot.csv"
    source.write_text(
        "ticket,district,created\n"
        + "".join(f"{tag}-{i},33010{i % 3},2026-03-02 09:{i:02d}:00\n" for i in range(20))
        + f"{tag}-bad,330101,yesterday\n"
    )
    mapping = tmp_path / "hot.yaml"
    mapping.write_text(
        "columns: {id: ticket, region: district, entity.id: ticket}\n"
        "time: {column: created, zone: Asia/Shanghai}\n"
        "constants: {type: hotline.ticket, stream: service, source: hotline,"
        " department: hotline-office, entity.kind: ticket}\n"
    )
    args = ["replay", str(source), "--mapping", str(mapping), "--batch", "8", "--progress"]
    assert main([*args, "--bootstrap", tansu.bootstrap]) == 0
    captured = capsys.readouterr()
    printed = captured.out
    # the bar: rows of the total, elapsed<ETA, the rate and the rejects so far
    bar = re.findall(r"21/21 \[[0-9:]+<[0-9:]+, +[0-9.]+ rows/s, rejected=1\]", captured.err)
    assert bar, captured.err
    sent, _ = _events_of(tansu.bootstrap, tag)
    assert sorted(e["id"] for e in sent) == sorted(f"{tag}-{i}" for i in range(20))
    assert sent[0]["ts"].endswith("+08:00") and sent[0]["type"] == "hotline.ticket"
    rejects = (tmp_path / "hot.csv.rejects.jsonl").read_text().splitlines()
    assert [orjson.loads(r)["row"] for r in rejects] == [21]
    assert "'yesterday' is not a time" in rejects[0]
    assert "rejected 1" in printed


def test_a_stopped_replay_resumes_from_its_checkpoint_without_doubling(
    tansu: Any, tmp_path: Path, make_event: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    tag = f"resume-{uuid.uuid4().hex[:8]}"
    for day in (2, 3):
        write_events(_day(make_event, tag, day, 150), tmp_path / f"{day:02d}.jsonl")
    checkpoint = tmp_path / "replay.checkpoint.json"

    async def stopped_early() -> Any:
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(0.6, stop.set)
        return await publish(
            tmp_path, tansu.bootstrap, progress=False, rate=400, batch=10,
            checkpoint=checkpoint, stop=stop,
        )  # fmt: skip

    first = asyncio.run(stopped_early())
    assert first.interrupted and 0 < first.sent < 300
    saved = orjson.loads(checkpoint.read_bytes())["files"]
    assert sum(entry["row"] for entry in saved.values()) == first.sent

    capsys.readouterr()
    second = asyncio.run(
        publish(tmp_path, tansu.bootstrap, progress=True, batch=10, checkpoint=checkpoint)
    )

    assert first.sent + second.sent == 300
    # the bar counts this run's work only: what the checkpoint settled left its total
    assert f" {second.sent}/{second.sent} [" in capsys.readouterr().err
    assert second.resumed_files * 150 + second.resumed_rows == first.sent
    sent, _ = _events_of(tansu.bootstrap, tag)
    assert len(sent) == 300 and len({e["id"] for e in sent}) == 300  # nothing lost, none twice
    done = orjson.loads(checkpoint.read_bytes())["files"]
    assert all(entry["done"] for entry in done.values())
    third = asyncio.run(publish(tmp_path, tansu.bootstrap, progress=False, checkpoint=checkpoint))
    assert (third.sent, third.resumed_files) == (0, 2)


def test_a_killed_replay_resumes_and_sends_again_only_past_its_checkpoint(
    tansu: Any, tmp_path: Path, make_event: Any
) -> None:
    tag = f"kill-{uuid.uuid4().hex[:8]}"
    path = tmp_path / "day.jsonl"
    events = _day(make_event, tag, 2, 1200)
    write_events(events, path)
    checkpoint = tmp_path / "ck.json"
    args = [sys.executable, "-m", "riskloop.cli", "replay", str(path), "--rate", "500"]
    args += ["--checkpoint", str(checkpoint), "--bootstrap", tansu.bootstrap, "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if checkpoint.exists() and orjson.loads(checkpoint.read_bytes())["files"]:
            row = next(iter(orjson.loads(checkpoint.read_bytes())["files"].values()))["row"]
            if row >= 300:
                break
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    at_kill = next(iter(orjson.loads(checkpoint.read_bytes())["files"].values()))["row"]
    assert 300 <= at_kill < 1200

    report = asyncio.run(publish(path, tansu.bootstrap, progress=False, checkpoint=checkpoint))

    assert report.sent == 1200 - at_kill and report.resumed_rows == at_kill
    counts = Counter(e["id"] for e in _events_of(tansu.bootstrap, tag)[0])
    assert set(counts) == {e["id"] for e in events}  # nothing lost
    twice = {i for i, n in counts.items() if n > 1}
    assert twice <= {e["id"] for e in events[at_kill:]}  # re-sent only past the checkpoint
    assert max(counts.values()) <= 2


def test_rate_caps_events_per_second(tansu: Any, tmp_path: Path, make_event: Any) -> None:
    path = tmp_path / "day.jsonl"
    tag = f"rate-{uuid.uuid4().hex[:8]}"
    write_events(_day(make_event, tag, 2, 60), path)
    started = time.monotonic()
    report = asyncio.run(publish(path, tansu.bootstrap, progress=False, rate=100, batch=20))
    assert report.sent == 60
    assert time.monotonic() - started >= 0.55  # 60 events at 100/s: 0.59 s at least
    assert report.records >= 3


def test_filters_and_a_bad_checkpoint_are_checked_before_sending(
    tmp_path: Path, make_event: Any
) -> None:
    path = tmp_path / "e.jsonl"
    write_events([make_event(1)], path)
    bad = tmp_path / "ck.json"
    bad.write_text("{not a checkpoint")
    from replay.publish import PublishError
    from replay.sources import SourceError

    nowhere = "127.0.0.1:1"
    with pytest.raises(SourceError, match="is not a replay checkpoint"):
        asyncio.run(publish(path, nowhere, checkpoint=bad))
    with pytest.raises(SourceError, match="rate must be a positive number"):
        asyncio.run(publish(path, nowhere, rate=0))
    with pytest.raises(PublishError, match="no file matches"):
        asyncio.run(publish(str(tmp_path / "*.parquet"), nowhere))
    assert RowFilter(types=("data.*",)).active
