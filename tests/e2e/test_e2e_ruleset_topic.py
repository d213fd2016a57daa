"""Two workers of one consumer group on Apache Kafka, each with a different rules folder, follow
rules.sets: they run the same rule set version from the start, both switch to a newly published
one, and both refuse an invalid one while the last valid set keeps running."""

from __future__ import annotations

import asyncio
import shutil
import urllib.request
from pathlib import Path

import pytest
from e2e_support import metric_sum, redis_db, stack_env, wait_for
from event_factories import probe_rule

from riskloop.cli import main
from riskloop.metrics_text import samples
from riskloop.services import ServiceGroup, start_worker
from streams.reload import folder_digest
from streams.ruleset_topic import RuleSetRecord, publish, read_all

pytestmark = [pytest.mark.integration, pytest.mark.kafka, pytest.mark.slow]

LIBRARY = Path(__file__).resolve().parents[2] / "rules" / "library"
PROBE = probe_rule("ruleset-probe")


def label_values(url: str, metric: str, label: str, set_only: bool = False) -> set[str]:
    """The values of ``label`` across a worker's ``metric`` samples (``set_only``: value 1)."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    return {s.labels[label] for s in samples(text, metric) if not set_only or s.value == 1}


def versions(url: str) -> set[str]:
    """The rule set versions a worker says it runs (``riskloop_ruleset_info``)."""
    return label_values(url, "riskloop_ruleset_info", "version", set_only=True)


def rules_running(url: str) -> set[str]:
    return label_values(url, "riskloop_rule_stats", "rule")


def test_every_worker_runs_the_published_rule_set(kafka, redis_url, services_dir, tmp_path):
    assert not asyncio.run(read_all(kafka.bootstrap))[0], "rules.sets starts empty"
    own = {}
    for name in ("a", "b"):
        own[name] = tmp_path / f"rules-{name}"
        shutil.copytree(LIBRARY, own[name])
    (own["b"] / "probe.yaml").write_text(PROBE)  # b's folder differs: it must not matter
    env = stack_env(kafka, redis_db(redis_url, 5), "riskloop-rulesets") | {
        "RISKLOOP_RULES_SOURCE": "topic"
    }
    v1 = folder_digest(own["a"])

    with ServiceGroup(services_dir / "rulesets") as group:
        a = group.add(start_worker(group.workdir("a"), env | {"RISKLOOP_RULES_DIR": str(own["a"])}))
        b = group.add(start_worker(group.workdir("b"), env | {"RISKLOOP_RULES_DIR": str(own["b"])}))
        assert versions(a.url) == versions(b.url) == {v1}, "the first worker's set for both"

        published = tmp_path / "published"
        shutil.copytree(LIBRARY, published)
        (published / "probe.yaml").write_text(PROBE.replace("gte: 1", "gte: 3"))
        assert main(["ruleset", "publish", str(published), "--bootstrap", kafka.bootstrap]) == 0
        v2 = folder_digest(published)
        for w in (a, b):
            wait_for(lambda w=w: versions(w.url) == {v2}, 30, f"worker {w.url} to run {v2}")
            wait_for(lambda w=w: "ruleset-probe" in rules_running(w.url), 30, "the new rule")

        rejected = {
            w.url: metric_sum(w.url, "riskloop_rules_reloads_total", result="rejected")
            for w in (a, b)
        }
        (published / "broken.yaml").write_text(PROBE.replace("1h", "an hour"))
        broken = RuleSetRecord.of_folder(published, by="a script", now_ms=1)
        asyncio.run(publish(kafka.bootstrap, broken))  # past the CLI's check, on purpose
        for w in (a, b):
            wait_for(
                lambda w=w: (
                    metric_sum(w.url, "riskloop_rules_reloads_total", result="rejected")
                    > rejected[w.url]
                ),
                30,
                "the invalid set to be refused",
            )
            assert versions(w.url) == {v2}, "the last valid set keeps running"
            log = w.log_path.read_text(errors="replace")
            assert f"{broken.version}/broken.yaml:6:1" in log and "keeps running" in log
        assert a.running() and b.running()
