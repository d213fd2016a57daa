"""Apache Kafka in KRaft mode on loopback, from its jars on Maven Central (fetched with
``mvn`` once, cached under ``~/.cache/riskloop``), for the tests that need consumer groups,
failover or transactions."""

from __future__ import annotations

import base64
import fcntl
import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path

from riskloop.services import (
    Service,
    ServiceError,
    _kafka_probe,
    ensure_tool,
    free_port,
)

KAFKA_VERSION = "3.9.2"
SLF4J_VERSION = "1.7.36"

# --- Apache Kafka -------------------------------------------------------------------------


def kafka_lib(version: str = KAFKA_VERSION) -> Path:
    """The folder of Apache Kafka ``version`` jars, fetched with ``mvn`` once and cached."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    home = cache / "riskloop" / f"kafka-{version}"
    lib = home / "lib"
    home.mkdir(parents=True, exist_ok=True)
    with open(home / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one fetch at a time, also across processes
        if not (home / "complete").exists():
            _fetch_kafka(version, home)
    return lib


def _fetch_kafka(version: str, home: Path) -> None:
    mvn = ensure_tool("mvn", "maven")
    pom = _KAFKA_POM.format(version=version, slf4j=SLF4J_VERSION)
    build = home / "build"
    shutil.rmtree(build, ignore_errors=True)
    shutil.rmtree(home / "lib", ignore_errors=True)
    build.mkdir()
    (build / "pom.xml").write_text(pom)
    cmd = [mvn, "-q", "-B", "dependency:copy-dependencies"]
    cmd += ["-DincludeScope=runtime", f"-DoutputDirectory={build / 'lib'}"]
    done = subprocess.run(cmd, cwd=build, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        shutil.rmtree(build, ignore_errors=True)
        text = re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)  # no colour codes
        raise ServiceError(
            f"mvn could not fetch Apache Kafka {version} (exit {done.returncode}):\n{text}"
        )
    (build / "lib").rename(home / "lib")
    (home / "complete").write_text(version + "\n")
    shutil.rmtree(build, ignore_errors=True)


_KAFKA_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>riskloop</groupId><artifactId>kafka-runtime</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId>
      <version>{version}</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId>
      <version>{slf4j}</version></dependency>
  </dependencies>
</project>
"""

_KAFKA_LOG4J = """log4j.rootLogger=WARN, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaRaftServer=INFO
"""


def _kafka_properties(workdir: Path, port: int, controller_port: int) -> str:
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(workdir / "data"),
        "num.partitions": "1",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "8",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "8",
        "min.insync.replicas": "1",
        "group.initial.rebalance.delay.ms": "0",
    }
    return "".join(f"{key}={value}\n" for key, value in props.items())


def _kafka_cluster_id() -> str:
    """A random cluster id in Kafka's own form (url-safe base64 of 16 bytes, no padding)."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not text.startswith("-"):
            return text


def _java(workdir: Path, lib: Path, heap: str) -> list[str]:
    java = ensure_tool("java", "default-jre-headless")
    log4j = f"-Dlog4j.configuration=file:{workdir / 'log4j.properties'}"
    return [java, f"-Xmx{heap}", "-XX:+UseG1GC", "-Djava.awt.headless=true", log4j]


def start_kafka(workdir: Path, port: int | None = None, version: str = KAFKA_VERSION) -> Service:
    """Apache Kafka, single node in KRaft mode, on 127.0.0.1; ready when metadata lists it."""
    lib = kafka_lib(version)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    controller_port = free_port()
    while controller_port == port:
        controller_port = free_port()
    config = workdir / "server.properties"
    config.write_text(_kafka_properties(workdir, port, controller_port))
    (workdir / "log4j.properties").write_text(_KAFKA_LOG4J)
    if not (workdir / "data" / "meta.properties").exists():
        fmt = _java(workdir, lib, "256m") + ["-cp", f"{lib}/*", "kafka.tools.StorageTool"]
        fmt += ["format", "-t", _kafka_cluster_id(), "-c", str(config)]
        done = subprocess.run(fmt, cwd=workdir, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise ServiceError(f"Kafka storage format failed:\n{done.stdout}{done.stderr}")
    argv = _java(workdir, lib, "768m") + ["-cp", f"{lib}/*", "kafka.Kafka", str(config)]
    return Service(
        "kafka",
        argv,
        port,
        f"kafka://127.0.0.1:{port}",
        workdir,
        workdir / "kafka.log",
        _kafka_probe,
        ready_timeout_s=90.0,
    ).launch()
