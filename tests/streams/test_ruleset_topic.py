"""One rule set for every worker through rules.sets: published once, validated by each worker,
taken by a worker that starts later, refused alike by all when invalid. On the session's Tansu
broker, one fresh topic per test."""

from __future__ import annotations

import asyncio
import itertools
import shutil
from pathlib import Path

import pytest
from event_factories import probe_rule

from riskloop.cli import main
from riskloop.services import Service
from riskloop.topic_admin import create_topics
from rules import RuleSetError, load_rules
from streams.reload import RELOADS, folder_digest
from streams.ruleset_topic import (
    RuleSetRecord,
    TopicRules,
    follow,
    initial_set,
    publish,
    read_all,
)

LIBRARY = Path(__file__).resolve().parents[2] / "rules" / "library"
PROBE = probe_rule("ruleset-probe")
_names = itertools.count()


@pytest.fixture
def topic(tansu: Service) -> str:
    name = f"test.rules.sets.{next(_names)}"
    asyncio.run(create_topics(tansu.bootstrap, {name: 1}))
    return name


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    shutil.copytree(LIBRARY, tmp_path / "rules")
    return tmp_path / "rules"


def test_a_published_folder_comes_back_whole_with_the_folders_version(tansu, topic, folder):
    record = RuleSetRecord.of_folder(folder, by="analyst", now_ms=1)
    assert record.version == folder_digest(folder)  # the same version in either mode
    asyncio.run(publish(tansu.bootstrap, record, topic))

    records, end = asyncio.run(read_all(tansu.bootstrap, topic))
    assert records == [record] and end == 1
    loaded = records[0].load()
    assert {r.id for r in loaded.rules} == {r.id for r in load_rules(folder).rules}


def test_an_invalid_set_names_version_file_and_line(folder):
    (folder / "broken.yaml").write_text(PROBE.replace("1h", "an hour"))
    record = RuleSetRecord.of_folder(folder, by="analyst", now_ms=1)
    with pytest.raises(RuleSetError, match=rf"^{record.version}/broken\.yaml:6:1: "):
        record.load()


def test_a_worker_keeps_its_set_when_a_published_one_is_invalid(folder, caplog):
    good = RuleSetRecord.of_folder(folder, by="a", now_ms=1)
    rules = TopicRules(good.load(), good.version)
    rejected = RELOADS.labels("rejected")._value.get()

    (folder / "broken.yaml").write_text(PROBE.replace("1h", "an hour"))
    bad = RuleSetRecord.of_folder(folder, by="b", now_ms=2)
    assert rules.accept(bad) is None
    assert rules.digest == good.version
    assert RELOADS.labels("rejected")._value.get() == rejected + 1
    assert f"{bad.version}/broken.yaml:6:1" in caplog.text and "keeps running" in caplog.text
    assert rules.accept(bad) is None  # the same bad set is not tried again
    assert RELOADS.labels("rejected")._value.get() == rejected + 1

    (folder / "broken.yaml").write_text(PROBE)
    fixed = RuleSetRecord.of_folder(folder, by="b", now_ms=3)
    new = rules.accept(fixed)
    assert new is not None and "ruleset-probe" in {r.id for r in new.rules}
    assert rules.digest == fixed.version and rules.accept(fixed) is None


def test_first_worker_publishes_its_folder_and_a_later_one_takes_the_newest(
    tansu, topic, folder, tmp_path
):
    first, ruleset, follow_from = initial_set(tansu.bootstrap, folder, "worker 1", 1, topic)
    assert first.version == folder_digest(folder) and follow_from == 1
    assert len(ruleset.rules) == len(load_rules(folder).rules)

    other = tmp_path / "other-rules"  # a second worker whose own folder differs
    shutil.copytree(folder, other)
    (other / "probe.yaml").write_text(PROBE)
    second, ruleset2, _ = initial_set(tansu.bootstrap, other, "worker 2", 2, topic)
    assert second == first, "a later worker runs the published set, not its own folder"
    assert "ruleset-probe" not in {r.id for r in ruleset2.rules}
    assert len(asyncio.run(read_all(tansu.bootstrap, topic))[0]) == 1  # it published nothing


def test_a_starting_worker_skips_an_invalid_newest_set_like_the_running_ones_do(
    tansu, topic, folder
):
    good = RuleSetRecord.of_folder(folder, by="a", now_ms=1)
    asyncio.run(publish(tansu.bootstrap, good, topic))
    (folder / "broken.yaml").write_text(PROBE.replace("1h", "an hour"))
    asyncio.run(publish(tansu.bootstrap, RuleSetRecord.of_folder(folder, by="b", now_ms=2), topic))

    record, _, follow_from = initial_set(tansu.bootstrap, folder, "late worker", 3, topic)
    assert record == good and follow_from == 2


def test_a_follower_sees_a_set_published_after_it_started(tansu, topic, folder):
    first = RuleSetRecord.of_folder(folder, by="a", now_ms=1)
    asyncio.run(publish(tansu.bootstrap, first, topic))
    (folder / "probe.yaml").write_text(PROBE)
    second = RuleSetRecord.of_folder(folder, by="b", now_ms=2)

    async def scenario() -> tuple[int, RuleSetRecord]:
        stream = follow(tansu.bootstrap, 1, topic)
        task = asyncio.ensure_future(stream.__anext__())
        await asyncio.sleep(1.0)  # the follower is waiting at the end of the topic
        await publish(tansu.bootstrap, second, topic)
        try:
            return await asyncio.wait_for(task, 30)
        finally:
            await stream.aclose()

    after, seen = asyncio.run(scenario())
    assert seen == second and after == 2


def test_publish_refuses_a_folder_that_fails_the_check(tansu, folder, capsys, monkeypatch):
    (folder / "broken.yaml").write_text(PROBE.replace("1h", "an hour"))
    before = len(asyncio.run(read_all(tansu.bootstrap))[0])

    assert main(["ruleset", "publish", str(folder), "--bootstrap", tansu.bootstrap]) == 1
    err = capsys.readouterr().err
    assert "broken.yaml:6:1" in err and "not published" in err
    assert len(asyncio.run(read_all(tansu.bootstrap))[0]) == before

    (folder / "broken.yaml").unlink()
    assert (
        main(
            [
                "ruleset",
                "publish",
                str(folder),
                "--by",
                "analyst wang",
                "--bootstrap",
                tansu.bootstrap,
            ]
        )
        == 0
    )
    assert f"published rule set {folder_digest(folder)}" in capsys.readouterr().out
    shown_dir = folder.parent / "shown"
    assert main(["ruleset", "show", "--bootstrap", tansu.bootstrap, "--out", str(shown_dir)]) == 0
    assert folder_digest(shown_dir) == folder_digest(folder)  # the published files, whole
    shown = capsys.readouterr().out
    assert (
        "analyst wang" in shown and "status    valid" in shown and "approval-overdue.yaml" in shown
    )
