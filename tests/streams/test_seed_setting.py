"""RISKLOOP_SEED_FILE reaches the worker: the file is read when the worker starts, so a bad
seed stops start-up naming the file and row instead of surfacing at a partition's first event."""

from __future__ import annotations

import os
import subprocess
import sys

from riskloop.services import free_port


def start_worker(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "riskloop.cli", "worker"],
        env=os.environ | env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_bad_seed_file_stops_the_worker_with_file_and_row(tansu, tmp_path):
    seed = tmp_path / "seed.jsonl"
    seed.write_text('{"not": "an event"}\n')
    env = {
        "RISKLOOP_DATA_DIR": str(tmp_path / "data"),
        "RISKLOOP_BROKER": tansu.url,
        "RISKLOOP_PARTITIONS": "4",  # as the session broker's topics
    }

    missing = start_worker(env | {"RISKLOOP_SEED_FILE": str(tmp_path / "none.jsonl")})
    assert missing.returncode == 2
    assert (
        "riskloop worker: seed file" in missing.stderr and "none.jsonl not found" in missing.stderr
    )

    bad = start_worker(env | {"RISKLOOP_SEED_FILE": str(seed)})
    assert bad.returncode == 2
    assert "seed.jsonl row 1: " in bad.stderr
    assert "Traceback" not in bad.stderr


def test_an_unreachable_broker_is_a_message_not_a_traceback(tmp_path):
    broker = f"kafka://127.0.0.1:{free_port()}"
    run = start_worker({"RISKLOOP_DATA_DIR": str(tmp_path), "RISKLOOP_BROKER": broker})
    assert run.returncode == 2
    assert f"cannot reach the Kafka broker at 127.0.0.1:{broker.rsplit(':', 1)[1]}" in run.stderr
    assert "Traceback" not in run.stderr
