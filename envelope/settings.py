"""One typed settings object, read from ``RISKLOOP_*`` environment variables at start-up.

A missing or bad value names the variable and the value:

>>> Settings.from_env({"RISKLOOP_PARTITIONS": "zero"})
Traceback (most recent call last):
...
envelope.settings.SettingsError: RISKLOOP_PARTITIONS='zero': must be a whole number >= 1
>>> Settings.from_env({"RISKLOOP_LATENESS_MS": "60000"}).lateness_ms
60000

``Settings.from_env(env)`` is the one way in: it reads ``env`` (the process environment when
none is given) through pydantic-settings, with the prefix ``RISKLOOP_``; variables of that
prefix that are not settings (``RISKLOOP_TOKEN`` of the clue CLI, …) are ignored.
``Settings(field=value)`` builds one from values alone and never reads the environment, so
tests stay hermetic.
"""

from __future__ import annotations

import os
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import annotated_types
from pydantic import BeforeValidator, Field, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from envelope.errors import UserError

DEFAULT_RULES_DIR = Path(__file__).resolve().parent.parent / "rules" / "library"
PREFIX = "RISKLOOP_"


class SettingsError(UserError, ValueError):
    """A ``RISKLOOP_*`` value that cannot be used: ``RISKLOOP_X='value': what is expected``."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


def _whole(value: Any) -> Any:
    """Text must read as a whole number as ``int()`` reads it: ``'2.0'`` is refused."""
    return int(value) if isinstance(value, str) else value


def _whole_or_none(value: Any) -> Any:
    """An empty text is "not set" (None); anything else a whole number >= 0."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    number = _whole(value)
    if isinstance(number, bool) or not isinstance(number, int) or number < 0:
        raise ValueError("not a whole number >= 0")
    return number


Whole = Annotated[int, BeforeValidator(_whole)]
Seconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Port = Annotated[Whole, Field(ge=1, le=65535)]
Text = Annotated[str, Field(min_length=1)]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=PREFIX, frozen=True, extra="forbid")

    broker: Text = "kafka://127.0.0.1:9092"
    redis_url: Text = "redis://127.0.0.1:6379/0"
    partitions: Annotated[Whole, Field(ge=1)] = 4
    rules_dir: Text = str(DEFAULT_RULES_DIR)
    app_id: Text = "riskloop"
    worker_web_port: Port = 6066
    api_port: Port = 8000
    # Where the worker keeps local files (Faust's data dir, one per app id and web port).
    data_dir: Text = "~/.local/state/riskloop"
    # Interface the API listens on; 0.0.0.0 in a container so Prometheus can scrape it.
    api_host: Text = "127.0.0.1"
    # Event-time lateness: the watermark trails the newest event by this much.
    lateness_ms: Annotated[Whole, Field(ge=0)] = 300_000
    # A partition idle this long (wall clock) starts advancing its watermark by elapsed time.
    idle_after_s: Seconds = 5.0
    # How long a consumer's fetch may wait at the broker for new records. Kafka answers as
    # soon as one arrives (the wait only paces an idle consumer); a broker that answers only
    # when the wait ends (Tansu) adds up to this much to each hop of event -> clue.
    fetch_max_wait_ms: Annotated[Whole, Field(ge=1, le=60_000)] = 200
    # Engine state is made durable every N events or S seconds per partition.
    checkpoint_every: Annotated[Whole, Field(ge=1)] = 2000
    checkpoint_interval_s: Seconds = 2.0
    # How often the worker looks for a changed rules folder (hot reload).
    reload_interval_s: Seconds = 5.0
    # Consumer-group session timeout: how long a dead worker keeps its partitions.
    session_timeout_s: Seconds = 30.0
    # A worker asked to stop (SIGTERM) saves and commits what it applied, hands its
    # partitions back and exits within this many seconds; past it, it exits anyway.
    stop_timeout_s: Seconds = 10.0
    # The partition key of event topics: every rule's group key must live inside it.
    partition_field: Text = "region"
    # API tokens stored (hashed) when the API starts, for demos and tests:
    # "TOKEN=actor:role:departments:regions" entries separated by ';' or spaces, ',' between
    # several departments or regions, '*' for all (see clues.access). Empty: none.
    api_bootstrap_tokens: str = ""
    # Where workers take their rule set from: "folder" (each worker polls rules_dir) or
    # "topic" (every worker follows the sets published to rules.sets with
    # `riskloop ruleset publish`, so all of them run the same version).
    rules_source: Literal["folder", "topic"] = "folder"
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
    state_retention_days: Annotated[Whole, Field(ge=1)] = 400
    # An event dated more than this ahead of the wall clock is dead-lettered (one such event
    # would move its partition's watermark, and fire every deadline, years ahead).
    max_future_skew_ms: Annotated[Whole, Field(ge=0)] = 86_400_000
    # How long (in event time, past the event) an applied event id is remembered, so that a
    # redelivered event counts once. None (empty): the running rules' longest window or
    # lookback (at most 7 days) plus the lateness.
    dedup_horizon_ms: Annotated[int | None, BeforeValidator(_whole_or_none)] = None
    # --- the clue API's bounds, tokens and secrets ---
    # Requests the API works on at once; one more is answered 503 with Retry-After at once.
    api_max_in_flight: Annotated[Whole, Field(ge=1)] = 256
    # Redis connections the API's pool may open; a request finding all busy waits this long
    # (seconds, also the connect timeout), then is answered 503 with Retry-After.
    api_redis_max_connections: Annotated[Whole, Field(ge=1)] = 64
    api_redis_pool_timeout_s: Seconds = 1.0
    # The largest request body the API reads (bytes); a larger one is a 413 before it is read.
    api_max_body_bytes: Annotated[Whole, Field(ge=1024)] = 1_048_576
    # Lifetime of a new API token (days) when its creator gives none, and the longest allowed.
    api_token_days: Annotated[Whole, Field(ge=1)] = 90
    api_token_max_days: Annotated[Whole, Field(ge=1)] = 365
    # The keyed-hash secret of pseudonyms: a file holding it (a mounted secret), else the
    # value itself. Never kept in Redis. Empty both: a key made per API process (pseudonyms
    # then change at each restart; fine for a demo, not for a deployment).
    pseudonym_key_file: str = ""
    pseudonym_key: str = ""
    # Earlier pseudonym keys, one a line, kept after a rotation: they make no pseudonym but
    # still open what they sealed (the identity view, verdicts on clues raised before).
    pseudonym_old_keys_file: str = ""
    # The same as a value: earlier keys separated by commas (after the file's, if both).
    pseudonym_old_keys: str = ""
    # Departments and region codes a clue may be dispatched to (comma-separated; a region
    # entry covers every code it prefixes). Empty: the shipped vocabulary
    # (envelope.vocabulary.DEPARTMENTS and REGIONS).
    departments: str = ""
    regions: str = ""

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise SettingsError("; ".join(_messages(type(self), exc))) from None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Only the values given: from_env hands over what it read from its mapping.
        return (init_settings,)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The settings in ``env`` (default: the process environment), and only there."""
        source = _MappingEnvSource(cls, os.environ if env is None else env)
        return cls(**source())

    @property
    def bootstrap(self) -> str:
        """host:port list for plain Kafka clients (aiokafka)."""
        return ",".join(u.split("://", 1)[-1] for u in self.broker.split(";"))


class _MappingEnvSource(EnvSettingsSource):
    """pydantic-settings' environment source reading a given mapping instead of os.environ.

    Only names that start with ``RISKLOOP_`` as written are looked at (the variables are
    upper case, as they have always been); pydantic-settings maps them to fields.
    """

    def __init__(self, settings_cls: type[BaseSettings], env: Mapping[str, str]) -> None:
        self._env = {k: v for k, v in env.items() if k.startswith(PREFIX)}
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {k.lower(): v for k, v in self._env.items()}


def _messages(cls: type[Settings], exc: ValidationError) -> list[str]:
    """One ``RISKLOOP_X='value': what is expected`` per field that failed."""
    out: list[str] = []
    seen: set[str] = set()
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else ""
        if name in seen:
            continue
        seen.add(name)
        info = cls.model_fields.get(name)
        what = _expected(name, info) if info else "is not a setting"
        out.append(f"{PREFIX}{name.upper()}={error.get('input')!r}: {what}")
    return out


def _expected(name: str, info: FieldInfo) -> str:
    """What a field accepts, said from its type and constraints."""
    if set(typing.get_args(info.annotation)) == {int, type(None)}:
        return "must be a whole number >= 0, or empty for the default"
    if typing.get_origin(info.annotation) is Literal:
        return "must be " + " or ".join(repr(c) for c in typing.get_args(info.annotation))
    low = high = None
    for m in info.metadata:
        if isinstance(m, annotated_types.Ge):
            low = f">= {m.ge}"
        elif isinstance(m, annotated_types.Gt):
            low = f"> {m.gt}"
        elif isinstance(m, annotated_types.Le):
            high = m.le
    if info.annotation is int:
        if high is not None and low is not None and low.startswith(">= "):
            return f"must be a whole number from {low[3:]} to {high}"
        return "must be a whole number" + (f" {low}" if low else "")
    if info.annotation is float:
        unit = " of seconds" if name.endswith("_s") else ""
        return f"must be a number{unit}" + (f" {low}" if low else "")
    return "must not be empty"
