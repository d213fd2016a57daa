"""The RISKLOOP_* settings: what the README's table lists is read, with its defaults, and a
bad value stops start-up with one message naming the variable, the value and what is
expected (never a silent fallback)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from envelope.errors import UserError
from envelope.settings import DEFAULT_RULES_DIR, Settings, SettingsError

README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_rows() -> list[tuple[list[str], list[str]]]:
    """(variables, defaults) of each row of the README's configuration table."""
    rows = []
    for line in README.read_text("utf-8").splitlines():
        if not line.startswith("| `RISKLOOP_"):
            continue
        names_cell, default_cell = line.split("|")[1:3]
        names = re.findall(r"`RISKLOOP_(\w+)`", names_cell)
        defaults = re.findall(r"`([^`]*)`", default_cell)
        if not defaults:  # "empty", "empty (shipped table)" or a bare number
            bare = default_cell.strip()
            defaults = [bare if bare[:1].isdigit() else ""]
        rows.append((names, defaults))
    return rows


def test_every_variable_in_the_readme_is_a_setting_with_the_default_it_states() -> None:
    rows = _readme_rows()
    assert len(rows) >= 15
    defaults = Settings()
    for names, shown in rows:
        assert len(names) == len(shown), (names, shown)
        for name, text in zip(names, shown, strict=True):
            field = name.lower()
            assert field in Settings.model_fields, f"RISKLOOP_{name} is not a setting"
            value = getattr(defaults, field)
            if field == "rules_dir":
                assert value == str(DEFAULT_RULES_DIR) and value.endswith(text)
            elif value is None:  # "empty": not set, the default is computed
                assert text == "", name
            elif isinstance(value, int | float):
                assert value == float(text), name
            else:
                assert value == text, name


def test_every_readme_variable_is_read_from_the_environment() -> None:
    env = {
        "RISKLOOP_BROKER": "kafka://k1:9092;kafka://k2:9092",
        "RISKLOOP_REDIS_URL": "redis://r:6379/1",
        "RISKLOOP_PARTITIONS": "8",
        "RISKLOOP_RULES_DIR": "/srv/rules",
        "RISKLOOP_LATENESS_MS": "0",
        "RISKLOOP_IDLE_AFTER_S": "2.5",
        "RISKLOOP_CHECKPOINT_EVERY": "100",
        "RISKLOOP_CHECKPOINT_INTERVAL_S": "1",
        "RISKLOOP_WORKER_WEB_PORT": "6067",
        "RISKLOOP_API_PORT": "65535",
        "RISKLOOP_API_HOST": "0.0.0.0",
        "RISKLOOP_APP_ID": "riskloop-b",
        "RISKLOOP_DATA_DIR": "/var/lib/riskloop",
        "RISKLOOP_RULES_SOURCE": "topic",
        "RISKLOOP_RELOAD_INTERVAL_S": "10",
        "RISKLOOP_SEED_FILE": "seed.jsonl",
        "RISKLOOP_STATE_RETENTION_DAYS": "90",
        "RISKLOOP_SESSION_TIMEOUT_S": "45",
        "RISKLOOP_CALENDAR_FILE": "calendar.yaml",
        "RISKLOOP_DEADLINE_POLICY_FILE": "deadlines.yaml",
        "RISKLOOP_API_BOOTSTRAP_TOKENS": "t=alice:admin:*:*",
        "RISKLOOP_PARTITION_FIELD": "department",
        "RISKLOOP_MAX_FUTURE_SKEW_MS": "3600000",
        "RISKLOOP_DEDUP_HORIZON_MS": "600000",
    }
    s = Settings.from_env(env)
    assert (s.partitions, s.lateness_ms, s.idle_after_s, s.api_port) == (8, 0, 2.5, 65535)
    assert (s.rules_source, s.state_retention_days, s.seed_file) == ("topic", 90, "seed.jsonl")
    assert s.bootstrap == "k1:9092,k2:9092"
    for name, raw in env.items():
        value = getattr(s, name.removeprefix("RISKLOOP_").lower())
        assert str(value) == raw or float(value) == float(raw), name


def test_an_empty_dedup_horizon_is_computed_from_the_rules() -> None:
    assert Settings.from_env({"RISKLOOP_DEDUP_HORIZON_MS": ""}).dedup_horizon_ms is None
    assert Settings.from_env({"RISKLOOP_DEDUP_HORIZON_MS": "0"}).dedup_horizon_ms == 0


def test_a_non_numeric_lateness_is_an_error_naming_variable_and_value() -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"RISKLOOP_LATENESS_MS": "five minutes"})
    assert str(info.value) == "RISKLOOP_LATENESS_MS='five minutes': must be a whole number >= 0"


@pytest.mark.parametrize("raw", ["2.5", "2.0", "1e3"])
def test_a_float_where_a_whole_number_is_expected_is_an_error(raw: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"RISKLOOP_PARTITIONS": raw})
    assert str(info.value) == f"RISKLOOP_PARTITIONS={raw!r}: must be a whole number >= 1"


@pytest.mark.parametrize("raw", ["kafka", "Topic", ""])
def test_the_rules_source_must_be_folder_or_topic(raw: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"RISKLOOP_RULES_SOURCE": raw})
    assert str(info.value) == f"RISKLOOP_RULES_SOURCE={raw!r}: must be 'folder' or 'topic'"
    assert Settings.from_env({"RISKLOOP_RULES_SOURCE": "topic"}).rules_source == "topic"


@pytest.mark.parametrize(
    ("name", "raw", "expected"),
    [
        ("RISKLOOP_PARTITIONS", "0", "must be a whole number >= 1"),
        ("RISKLOOP_LATENESS_MS", "-1", "must be a whole number >= 0"),
        ("RISKLOOP_STATE_RETENTION_DAYS", "a year", "must be a whole number >= 1"),
        ("RISKLOOP_MAX_FUTURE_SKEW_MS", "-5", "must be a whole number >= 0"),
        (
            "RISKLOOP_DEDUP_HORIZON_MS",
            "-1",
            "must be a whole number >= 0, or empty for the default",
        ),
        (
            "RISKLOOP_DEDUP_HORIZON_MS",
            "1.5",
            "must be a whole number >= 0, or empty for the default",
        ),
        ("RISKLOOP_API_PORT", "0", "must be a whole number from 1 to 65535"),
        ("RISKLOOP_WORKER_WEB_PORT", "70000", "must be a whole number from 1 to 65535"),
        ("RISKLOOP_IDLE_AFTER_S", "soon", "must be a number of seconds > 0"),
        ("RISKLOOP_SESSION_TIMEOUT_S", "0", "must be a number of seconds > 0"),
        ("RISKLOOP_RELOAD_INTERVAL_S", "nan", "must be a number of seconds > 0"),
        ("RISKLOOP_CHECKPOINT_INTERVAL_S", "inf", "must be a number of seconds > 0"),
        ("RISKLOOP_BROKER", "", "must not be empty"),
        ("RISKLOOP_PARTITION_FIELD", "", "must not be empty"),
    ],
)
def test_a_bad_value_names_the_variable_the_value_and_what_is_expected(
    name: str, raw: str, expected: str
) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({name: raw})
    assert str(info.value) == f"{name}={raw!r}: {expected}"


def test_several_bad_values_make_one_error_naming_each() -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"RISKLOOP_PARTITIONS": "zero", "RISKLOOP_API_PORT": "http"})
    message = str(info.value)
    assert "RISKLOOP_PARTITIONS='zero': must be a whole number >= 1" in message
    assert "RISKLOOP_API_PORT='http': must be a whole number from 1 to 65535" in message


def test_a_settings_error_is_a_user_error_and_still_a_value_error() -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"RISKLOOP_PARTITIONS": "zero"})
    assert isinstance(info.value, UserError) and isinstance(info.value, ValueError)


def test_the_optional_files_may_be_set_empty_and_unknown_variables_are_ignored() -> None:
    s = Settings.from_env(
        {
            "RISKLOOP_CALENDAR_FILE": "",
            "RISKLOOP_SEED_FILE": "",
            "RISKLOOP_TOKEN": "not a setting (the clue CLI's)",
            "RISKLOOP_API_URL": "http://127.0.0.1:9",
            "PATH": "/usr/bin",
        }
    )
    assert s == Settings()


def test_from_env_reads_only_the_mapping_it_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RISKLOOP_PARTITIONS", "7")
    assert Settings.from_env({}).partitions == 4
    assert Settings.from_env({"RISKLOOP_PARTITIONS": "2"}).partitions == 2
    assert Settings.from_env().partitions == 7  # no mapping: the process environment
    assert Settings().partitions == 4  # built from values alone, never the environment


def test_settings_are_frozen() -> None:
    s = Settings()
    with pytest.raises(ValueError):
        s.partitions = 9
    assert s.partitions == 4
