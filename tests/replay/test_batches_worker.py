"""The worker's ingest reads a replay's batched messages as the events they carry: a simulated
run sent in batches raises exactly the warnings it raises sent one event a message (no batch
holds a rare partition's events back until the watermark has passed them), and a bad event
inside a batch is dead-lettered alone while its neighbours go on."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import orjson
import pytest

from envelope.partitioning import partition_for
from envelope.settings import DEFAULT_RULES_DIR
from envelope.topics import EVENT_TOPICS, TOPIC_SERVICE
from replay.batches import Batches
from replay.fast_rows import fast_rows
from replay.simulator import simulate_to_file
from rules import load_rules
from streams import ingest
from tests.streams.pipeline import Pipeline

PARTITIONS = 4


@pytest.fixture(scope="module")
def days(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("batches") / "days.jsonl"
    # every key in one district: a key fed by two sources is applied in arrival order (see
    # test_backtest's interleaving test), which batching changes
    simulate_to_file(path, 31, days=2, cross_district=False)
    return path


Sent = tuple[str, int, bytes, float]  # topic, partition, value, when (s into the replay)


def _records(path: Path, batch: int | None, rate: float = 40_000) -> list[Sent]:
    """What ``riskloop replay [--batch N]`` sends, in order, reading ``rate`` events a second."""
    topics = {t: PARTITIONS for t in EVENT_TOPICS.values()}
    batches = None if batch is None else Batches(batch, topics)
    out: list[Sent] = []
    now_s = 0.0
    for i, (_, value, _, _, stream, key, _, _) in enumerate(fast_rows(path, "region")):
        assert value is not None and key is not None
        topic, now_s = EVENT_TOPICS[stream], i / rate
        if batches is None:
            out.append((topic, partition_for(key, PARTITIONS), value, now_s))
            continue
        done, _ = batches.add(topic, key, value, now_s)
        out += [(r.topic, r.partition, r.value, now_s) for r in done]
    out += [(r.topic, r.partition, r.value, now_s) for r in batches.drain(now_s)] if batches else []
    return out


def _worker(records: list[Sent], monkeypatch: pytest.MonkeyPatch) -> Pipeline:
    """The worker's ingest and evaluate steps reading each record as it is sent, on the
    replay's clock: a source silent for RISKLOOP_IDLE_AFTER_S of it (or never read) is idle."""
    clock = SimpleNamespace(monotonic=lambda: 0.0, time=time.time)
    monkeypatch.setattr(ingest, "time", clock)
    pipe = Pipeline(load_rules(DEFAULT_RULES_DIR), partitions=PARTITIONS, idle_after_s=5.0)
    flushed_s = 0.0
    for topic, partition, value, sent_s in records:
        clock.monotonic = lambda sent_s=sent_s: 1_000 + sent_s
        pipe.send(topic, value, partition)
        if sent_s - flushed_s >= ingest.LINGER_S:
            pipe.flush()
            flushed_s = sent_s
    pipe.flush()
    return pipe


def test_batched_messages_raise_the_warnings_of_one_event_a_message(
    days: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A partition never read yet counts as idle: its first events must not wait in a batch
    (about 2% of the events are regulatory, so their batches fill slowly)."""
    single, batched = _records(days, None), _records(days, 200)
    assert len(batched) < len(single) / 20  # the batches really pack events

    alone, packed = _worker(single, monkeypatch), _worker(batched, monkeypatch)

    want = sorted(w.id for w in alone.warnings)
    assert len(want) >= 5
    assert sorted(w.id for w in packed.warnings) == want
    assert packed.dead_letters == alone.dead_letters == []


def test_a_bad_event_in_a_batch_is_dead_lettered_alone(days: Path) -> None:
    topic, partition, value, _ = next(
        r for r in _records(days, 50) if r[0] == TOPIC_SERVICE and len(orjson.loads(r[2])) > 2
    )
    events = orjson.loads(value)
    del events[1]["ts"]
    pipe = Pipeline(load_rules(DEFAULT_RULES_DIR), partitions=PARTITIONS, idle_after_s=1e9)
    record = pipe.send(topic, orjson.dumps(events), partition)
    pipe.flush()

    assert [orjson.loads(d["original"])["id"] for d in pipe.dead_letters] == [events[1]["id"]]
    assert "ts" in pipe.dead_letters[0]["reason"]
    assert record.acked  # the batch's other events went on: nothing waits behind it
