"""docker-compose.yml and deploy/ hold together: Debian's docker-compose accepts the file,
Prometheus scrapes the jobs the dashboards expect, Grafana gets the provisioning and the
dashboards where the provisioning looks for them. (No container engine runs here.)"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from dashboard_checks import REPO

from clues.privacy import pseudonym_key
from envelope.settings import Settings

COMPOSE = REPO / "docker-compose.yml"


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text("utf-8"))


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    return load_yaml(COMPOSE)["services"]


def compose_config(compose_file: Path) -> subprocess.CompletedProcess:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("docker-compose (Debian package docker-compose) is not installed")
    return subprocess.run(
        [binary, "-f", str(compose_file), "config", "-q"],
        cwd=compose_file.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_docker_compose_accepts_the_file() -> None:
    result = compose_config(COMPOSE)
    assert result.returncode == 0, result.stderr


def test_docker_compose_rejects_a_broken_copy(tmp_path: Path) -> None:
    broken = COMPOSE.read_text("utf-8").replace(
        "condition: service_completed_successfully", "condition: service_finished", 1
    )
    (tmp_path / "docker-compose.yml").write_text(broken, "utf-8")

    result = compose_config(tmp_path / "docker-compose.yml")

    assert result.returncode != 0
    assert "service_finished" in result.stderr


def test_the_stack_has_every_part(services: dict[str, Any]) -> None:
    assert set(services) == {"kafka", "redis", "topics", "worker", "api", "prometheus", "grafana"}
    assert services["kafka"]["image"].startswith("apache/kafka:3.9.")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"


def test_redis_keeps_an_append_only_file_on_a_volume(services: dict[str, Any]) -> None:
    redis = services["redis"]
    assert "--appendonly" in redis["command"]
    assert redis["command"][redis["command"].index("--appendonly") + 1] == "yes"
    assert any(v.endswith(":/data") for v in redis["volumes"])


def test_worker_and_api_run_riskloop_against_the_compose_services(
    services: dict[str, Any],
) -> None:
    for name, command in (("worker", "worker"), ("api", "api"), ("topics", "topics create")):
        svc = services[name]
        assert svc["build"] == {"context": ".", "dockerfile": "deploy/Dockerfile"}
        assert " ".join(svc["command"]) == f"riskloop {command}"
        assert svc["environment"]["RISKLOOP_BROKER"] == "kafka://kafka:9092"
        assert svc["environment"]["RISKLOOP_REDIS_URL"] == "redis://redis:6379/0"
        Settings.from_env(svc["environment"])  # every RISKLOOP_* value is a valid setting
    assert services["worker"]["environment"]["RISKLOOP_RULES_SOURCE"] == "topic"
    topics_done = {"condition": "service_completed_successfully"}
    assert services["worker"]["depends_on"]["topics"] == topics_done
    assert services["topics"]["depends_on"]["kafka"] == {"condition": "service_healthy"}


def test_the_worker_scales_publishing_no_host_port(services: dict[str, Any]) -> None:
    worker = services["worker"]
    assert "ports" not in worker  # a second replica could not bind the same host port
    assert "container_name" not in worker and "hostname" not in worker
    assert worker["expose"] == [str(Settings.from_env({}).worker_web_port)]
    assert services["api"]["ports"] == ["8000:8000"]
    assert services["grafana"]["ports"] == ["3000:3000"]


def test_docker_compose_scales_the_worker() -> None:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("docker-compose (Debian package docker-compose) is not installed")
    result = subprocess.run(
        [binary, "-f", str(COMPOSE), "config"],
        cwd=COMPOSE.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    worker = yaml.safe_load(result.stdout)["services"]["worker"]
    assert "ports" not in worker


@pytest.mark.parametrize("operator_key", [None, "an operator's key of 32 characters"])
def test_worker_and_api_share_one_pseudonym_key_the_operator_can_set(
    operator_key: str | None,
) -> None:
    """What the worker seals the API's identity view opens: one key for both, usable as it
    is (at least 16 bytes), and the operator's own when set."""
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("docker-compose (Debian package docker-compose) is not installed")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RISKLOOP_")}
    if operator_key is not None:
        env["RISKLOOP_PSEUDONYM_KEY"] = operator_key
    result = subprocess.run(
        [binary, "-f", str(COMPOSE), "config"],
        cwd=COMPOSE.parent,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)["services"]
    keys = {
        pseudonym_key(Settings.from_env(resolved[name]["environment"]))
        for name in ("worker", "api")
    }
    assert len(keys) == 1
    if operator_key is not None:
        assert keys == {operator_key.encode()}


def test_dockerfile_installs_the_package_on_python_311_slim() -> None:
    lines = (REPO / "deploy" / "Dockerfile").read_text("utf-8").splitlines()
    assert "FROM python:3.11-slim" in lines
    assert any(line.strip().startswith("RUN pip install .") for line in lines)


def test_prometheus_scrapes_worker_and_api_under_the_dashboard_job_names(
    services: dict[str, Any],
) -> None:
    config = load_yaml(REPO / "deploy" / "prometheus.yml")
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    api = [t for sc in jobs["riskloop-api"]["static_configs"] for t in sc["targets"]]
    assert api == ["api:8000"]
    worker = jobs["riskloop-worker"]
    assert "static_configs" not in worker  # one fixed target would miss the other replicas
    port = Settings.from_env({}).worker_web_port
    assert worker["dns_sd_configs"] == [
        {"names": ["worker"], "type": "A", "port": port, "refresh_interval": "15s"}
    ]
    mounts = services["prometheus"]["volumes"]
    assert "./deploy/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in mounts


def test_promtool_accepts_the_prometheus_config(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool (Debian package prometheus) is not installed")
    result = subprocess.run(
        [promtool, "check", "config", "--syntax-only", str(REPO / "deploy" / "prometheus.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_grafana_finds_provisioning_and_dashboards_where_they_are_mounted(
    services: dict[str, Any],
) -> None:
    mounts = dict(v.split(":")[:2] for v in services["grafana"]["volumes"])
    provider = load_yaml(REPO / "dashboards" / "provisioning" / "dashboards" / "riskloop.yaml")
    datasources = load_yaml(REPO / "dashboards" / "provisioning" / "datasources" / "riskloop.yaml")

    dashboards_path = provider["providers"][0]["options"]["path"]
    assert mounts["./dashboards"] == dashboards_path
    assert provider["providers"][0]["type"] == "file"
    assert mounts["./dashboards/provisioning/datasources"] == (
        "/etc/grafana/provisioning/datasources"
    )
    assert mounts["./dashboards/provisioning/dashboards"] == "/etc/grafana/provisioning/dashboards"
    prom = datasources["datasources"][0]
    assert (prom["uid"], prom["type"], prom["url"]) == (
        "prom",
        "prometheus",
        "http://prometheus:9090",
    )
