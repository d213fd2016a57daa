"""Session fixtures: real infrastructure on 127.0.0.1, started once per session, stopped at the end.

Each service fixture starts only when a test asks for it. Tests that use one are marked
``integration`` automatically (Apache Kafka ones also ``kafka`` and ``slow``), so
``-m "not integration"`` never starts a server.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from riskloop.kafka_local import start_kafka
from riskloop.services import Service, ServiceGroup, start_redis, start_tansu
from riskloop.topic_admin import create_topics, riskloop_topics

# Partition count of the riskloop topics pre-created on the session brokers.
TOPIC_PARTITIONS = 4

# --- markers ------------------------------------------------------------------------------

_FIXTURE_MARKS = {
    "redis_url": ("integration",),
    "tansu": ("integration",),
    "kafka": ("integration", "kafka", "slow"),
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test by the infrastructure fixtures it uses (directly or through others)."""
    for item in items:
        for fixture in getattr(item, "fixturenames", ()):
            for mark in _FIXTURE_MARKS.get(fixture, ()):
                item.add_marker(mark)


# --- infrastructure -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def services_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder per session holding each service's work folder and log."""
    return tmp_path_factory.mktemp("services")


@contextmanager
def _serve(root: Path, start: Callable[[Path], Service]) -> Iterator[Service]:
    """Start one service under ``root`` and stop it (and its process group) afterwards."""
    with ServiceGroup(root) as group:
        yield group.add(start(root))


@pytest.fixture(scope="session")
def redis_url(services_dir: Path) -> Iterator[str]:
    """``$REDIS_URL`` if set, else a private redis-server (AOF on) for this session."""
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    with _serve(services_dir / "redis", start_redis) as service:
        yield service.url


@pytest.fixture(scope="session")
def tansu(services_dir: Path) -> Iterator[Service]:
    """A Tansu broker with riskloop's topics (``riskloop_topics(TOPIC_PARTITIONS)``)."""
    with _serve(services_dir / "tansu", start_tansu) as service:
        asyncio.run(create_topics(service.bootstrap, riskloop_topics(TOPIC_PARTITIONS)))
        yield service


@pytest.fixture(scope="session")
def kafka(services_dir: Path) -> Iterator[Service]:
    """Apache Kafka (KRaft, one node) with riskloop's topics; slow: jars + JVM."""
    with _serve(services_dir / "kafka", start_kafka) as service:
        asyncio.run(create_topics(service.bootstrap, riskloop_topics(TOPIC_PARTITIONS)))
        yield service
