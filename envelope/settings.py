"""One typed settings object, read from ``RISKLOOP_*`` environment variables at start-up.

A missing or bad value names the variable and the value:

>>> Settings.from_env({"RISKLOOP_PARTITIONS": "zero"})
Traceback (most recent call last):
...
envelope.settings.SettingsError: RISKLOOP_PARTITIONS='zero': must be a whole number >= 1
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

DEFAULT_RULES_DIR = Path(__file__).resolve().parent.parent / "rules" / "library"


class SettingsError(ValueError):
    pass


@dataclass(frozen=True)
class Settings:
    broker: str = "kafka://127.0.0.1:9092"
    redis_url: str = "redis://127.0.0.1:6379/0"
    partitions: int = 4
    rules_dir: str = str(DEFAULT_RULES_DIR)
    app_id: str = "riskloop"
    worker_web_port: int = 6066
    api_port: int = 8000
    # Where the worker keeps local files (Faust's data dir, one per app id and web port).
    data_dir: str = "~/.local/state/riskloop"
    # Interface the API listens on; 0.0.0.0 in a container so Prometheus can scrape it.
    api_host: str = "127.0.0.1"
    # Event-time lateness: the watermark trails the newest event by this much.
    lateness_ms: int = 300_000
    # A partition idle this long (wall clock) starts advancing its watermark by elapsed time.
    idle_after_s: float = 5.0
    # Engine state is made durable every N events or S seconds per partition.
    checkpoint_every: int = 2000
    checkpoint_interval_s: float = 2.0
    # How often the worker looks for a changed rules folder (hot reload).
    reload_interval_s: float = 5.0
    # Consumer-group session timeout: how long a dead worker keeps its partitions.
    session_timeout_s: float = 30.0
    # The partition key of event topics: every rule's group key must live inside it.
    partition_field: str = "region"
    # API tokens stored (hashed) when the API starts, for demos and tests:
    # "TOKEN=actor:role:departments:regions" entries separated by ';' or spaces, ',' between
    # several departments or regions, '*' for all (see clues.access). Empty: none.
    api_bootstrap_tokens: str = ""
    # Where workers take their rule set from: "folder" (each worker polls rules_dir) or
    # "topic" (every worker follows the sets published to rules.sets with
    # `riskloop ruleset publish`, so all of them run the same version).
    rules_source: str = "folder"
    # A YAML file of calendar days that patch the statutory working-day calendar (a year the
    # chinese-calendar package does not cover yet). Empty: none.
    calendar_file: str = ""
    # A YAML file of deadline terms per (category, risk level) for clues. Empty: shipped.
    deadline_policy_file: str = ""
    # An event file (JSON lines, CSV, Parquet) a partition without saved state learns from
    # before its first event, so new_value and spike baselines do not flood. Empty: none.
    seed_file: str = ""
    # The longest look-back (days) this deployment is sized to hold state for: `riskloop
    # rules check` reports a rule whose window, span, lookback or deadline is longer.
    state_retention_days: int = 400

    def __post_init__(self) -> None:
        if self.rules_source not in ("folder", "topic"):
            raise SettingsError(
                f"RISKLOOP_RULES_SOURCE={self.rules_source!r}: must be 'folder' or 'topic'"
            )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for f in fields(cls):
            name = "RISKLOOP_" + f.name.upper()
            if name not in env:
                continue
            raw = env[name]
            values[f.name] = _convert(name, raw, f.type)
        return cls(**values)  # type: ignore[arg-type]

    @property
    def bootstrap(self) -> str:
        """host:port list for plain Kafka clients (aiokafka)."""
        return ",".join(u.split("://", 1)[-1] for u in self.broker.split(";"))


def _convert(name: str, raw: str, typ: object) -> object:
    if typ in ("int", int):
        try:
            v = int(raw)
        except ValueError:
            v = 0
        if v < 1 and name != "RISKLOOP_LATENESS_MS":
            raise SettingsError(f"{name}={raw!r}: must be a whole number >= 1")
        if v < 0:
            raise SettingsError(f"{name}={raw!r}: must be a whole number >= 0")
        return v
    if typ in ("float", float):
        try:
            f = float(raw)
        except ValueError:
            raise SettingsError(f"{name}={raw!r}: must be a number of seconds") from None
        if f <= 0:
            raise SettingsError(f"{name}={raw!r}: must be > 0")
        return f
    if not raw:
        raise SettingsError(f"{name}={raw!r}: must not be empty")
    return raw
