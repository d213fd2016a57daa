"""Hot reload: a changed rules folder is validated whole; a bad one is rejected, the old set
keeps running; a good one is returned once."""

from __future__ import annotations

import shutil
from pathlib import Path

from event_factories import probe_rule

from rules import load_rules
from streams.reload import RELOADS, RuleWatcher

LIBRARY = Path(__file__).resolve().parents[2] / "rules" / "library"
EXTRA = probe_rule("reload-probe")


def test_bad_set_rejected_then_good_set_accepted(tmp_path, caplog):
    folder = tmp_path / "rules"
    shutil.copytree(LIBRARY, folder)
    running = load_rules(folder)
    watcher = RuleWatcher(folder, running)
    assert watcher.poll() is None  # nothing changed

    rejected_before = RELOADS.labels("rejected")._value.get()
    (folder / "broken.yaml").write_text(
        EXTRA.replace("reload-probe", "broken").replace("1h", "an hour")
    )
    assert watcher.poll() is None
    assert RELOADS.labels("rejected")._value.get() == rejected_before + 1
    assert "broken.yaml:6:1" in caplog.text and "keeps running" in caplog.text
    assert watcher.ruleset is running
    assert watcher.poll() is None  # the same bad content is not reported again

    (folder / "broken.yaml").unlink()
    (folder / "probe.yaml").write_text(EXTRA)
    new = watcher.poll()
    assert new is not None and "reload-probe" in {r.id for r in new.rules}
    assert watcher.poll() is None


def test_a_folder_changing_while_it_is_read_is_taken_at_the_next_poll(tmp_path, monkeypatch):
    import streams.reload as reload

    folder = tmp_path / "rules"
    shutil.copytree(LIBRARY, folder)
    watcher = RuleWatcher(folder, load_rules(folder))
    (folder / "probe.yaml").write_text(EXTRA)
    real = reload.load_rules

    def load_while_a_copy_goes_on(path):
        ruleset = real(path)
        (folder / "probe2.yaml").write_text(EXTRA.replace("reload-probe", "reload-probe-2"))
        return ruleset

    monkeypatch.setattr(reload, "load_rules", load_while_a_copy_goes_on)
    assert watcher.poll() is None, "what was read is not what the folder now holds"
    monkeypatch.setattr(reload, "load_rules", real)
    new = watcher.poll()
    assert new is not None and {"reload-probe", "reload-probe-2"} <= {r.id for r in new.rules}
    assert watcher.digest == reload.folder_digest(folder)


def test_a_value_yaml_cannot_build_is_a_rejection_with_its_line(tmp_path, caplog):
    folder = tmp_path / "rules"
    shutil.copytree(LIBRARY, folder)
    watcher = RuleWatcher(folder, running := load_rules(folder))
    (folder / "dated.yaml").write_text(EXTRA.replace("title:", "created: 2026-02-30\ntitle:"))
    assert watcher.poll() is None and watcher.ruleset is running
    assert "dated.yaml:" in caplog.text and "'2026-02-30' is not a date" in caplog.text


def test_a_fault_of_the_loader_itself_rejects_the_set_and_keeps_the_old_one(
    tmp_path, monkeypatch, caplog
):
    """A stand-in for a loader bug (no rule file triggers one that we know of): the worker
    must not crash, and the set is not retried until it changes."""
    import streams.reload as reload

    folder = tmp_path / "rules"
    shutil.copytree(LIBRARY, folder)
    watcher = RuleWatcher(folder, running := load_rules(folder))
    (folder / "probe.yaml").write_text(EXTRA)

    def broken_loader(path):
        raise RuntimeError("loader bug")

    monkeypatch.setattr(reload, "load_rules", broken_loader)
    assert watcher.poll() is None and watcher.ruleset is running
    assert "could not be loaded" in caplog.text and "loader bug" in caplog.text
    assert watcher.poll() is None  # the same content is not tried again


def test_a_yml_file_added_to_the_folder_is_a_change_and_is_refused_by_name(tmp_path, caplog):
    folder = tmp_path / "rules"
    shutil.copytree(LIBRARY, folder)
    watcher = RuleWatcher(folder, running := load_rules(folder))
    (folder / "probe.yml").write_text(EXTRA)
    assert watcher.poll() is None and watcher.ruleset is running
    assert "probe.yml:1:1: rule files end in .yaml" in caplog.text
