"""Real Apache Kafka (KRaft): topics as declared and a consumer group that resumes where it
committed, which is what multi-worker and failover tests rely on."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from envelope.partitioning import partition_for
from riskloop.kafka_local import kafka_lib
from riskloop.services import Service, ServiceError
from riskloop.topic_admin import create_topics, riskloop_topics

pytestmark = [pytest.mark.integration, pytest.mark.kafka, pytest.mark.slow]

TOPIC = "services.group"
GROUP = "services-test-group"


async def send(bootstrap: str, first: int, last: int) -> None:
    # Idempotent producing: Tansu rejects it, Apache Kafka must accept it.
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        for i in range(first, last):
            await producer.send_and_wait(TOPIC, b"event-%d" % i, key=b"region-%d" % (i % 7))
    finally:
        await producer.stop()


async def read_as_group(bootstrap: str, count: int) -> list[tuple[int, bytes, bytes]]:
    """Join ``GROUP``, read ``count`` records, commit, leave; then check nothing else came."""
    consumer = AIOKafkaConsumer(
        TOPIC,
        bootstrap_servers=bootstrap,
        group_id=GROUP,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        seen: list[tuple[int, bytes, bytes]] = []
        async with asyncio.timeout(60):
            while len(seen) < count:
                batches = await consumer.getmany(timeout_ms=500)
                seen += [(r.partition, r.key, r.value) for rs in batches.values() for r in rs]
        extra = await consumer.getmany(timeout_ms=1000)
        seen += [(r.partition, r.key, r.value) for rs in extra.values() for r in rs]
        await consumer.commit()
        return seen
    finally:
        await consumer.stop()


def test_kcat_sees_the_riskloop_topics_on_kafka(kafka: Service) -> None:
    listing = subprocess.run(
        ["kcat", "-L", "-J", "-b", kafka.bootstrap],
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout
    topics = {t["topic"]: len(t["partitions"]) for t in json.loads(listing)["topics"]}
    assert {t: topics.get(t) for t in riskloop_topics(4)} == riskloop_topics(4)


def test_consumer_group_resumes_from_its_committed_offsets(kafka: Service) -> None:
    asyncio.run(create_topics(kafka.bootstrap, {TOPIC: 4}))
    asyncio.run(send(kafka.bootstrap, 0, 40))
    first = asyncio.run(read_as_group(kafka.bootstrap, 40))
    asyncio.run(send(kafka.bootstrap, 40, 50))
    second = asyncio.run(read_as_group(kafka.bootstrap, 10))

    assert sorted(v for _, _, v in first) == sorted(b"event-%d" % i for i in range(40))
    assert sorted(v for _, _, v in second) == sorted(b"event-%d" % i for i in range(40, 50))
    assert all(p == partition_for(k, 4) for p, k, _ in first + second)


def test_kcat_produces_on_the_partitions_riskloop_computes(kafka: Service) -> None:
    topic = "services.kcat"
    asyncio.run(create_topics(kafka.bootstrap, {topic: 4}))
    regions = [b"330106", b"330102", b"330108", b"110101", b"440305", b"510104"]
    lines = b"".join(b"%s:from-kcat\n" % region for region in regions)
    # librdkafka's default partitioner is crc32-based; murmur2_random is the Java client's.
    kcat = ["kcat", "-b", kafka.bootstrap, "-t", topic]
    produce = [*kcat, "-P", "-K:", "-X", "topic.partitioner=murmur2_random"]
    subprocess.run(produce, input=lines, check=True, timeout=30)
    consume = [*kcat, "-C", "-e", "-o", "beginning", "-f", "%p %k %s\\n"]
    out = subprocess.run(consume, capture_output=True, check=True, timeout=30).stdout

    seen = sorted(tuple(line.split()) for line in out.splitlines())
    assert seen == sorted((b"%d" % partition_for(r, 4), r, b"from-kcat") for r in regions)


def test_a_version_maven_cannot_fetch_is_reported_in_mvns_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    with pytest.raises(ServiceError) as info:
        kafka_lib("0.0.1-nope")
    message = str(info.value)
    assert message.startswith("mvn could not fetch Apache Kafka 0.0.1-nope (exit 1)")
    assert "[ERROR] Failed to execute goal" in message
    assert "org.apache.kafka:kafka_2.13:jar:0.0.1-nope" in message
    assert "\x1b[" not in message  # plain text, no terminal colours
    assert not (tmp_path / "riskloop" / "kafka-0.0.1-nope" / "complete").exists()
