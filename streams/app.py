"""The Faust app in a few lines: settings in, app with agents out."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import faust
from faust.sensors.prometheus import setup_prometheus_sensors

from envelope.settings import Settings
from rules import load_rules
from streams import agents, ruleset_topic, topics


def create_app(settings: Settings | None = None) -> faust.App:
    settings = settings or Settings.from_env()
    if settings.rules_source == "topic":  # the newest set every worker runs
        by = f"worker {socket.gethostname()}:{settings.worker_web_port}"
        record, ruleset, follow_from = ruleset_topic.initial_set(
            settings.bootstrap, settings.rules_dir, by, time.time_ns() // 1_000_000
        )
        origin: agents.Origin | None = agents.Origin(record.version, follow_from)
    else:
        ruleset = load_rules(settings.rules_dir)  # a bad rule set stops start-up with file:line
        origin = None
    data_dir = Path(settings.data_dir).expanduser()
    data_dir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        settings.app_id,
        broker=settings.broker,
        store="memory://",
        datadir=f"{data_dir}/{{conf.name}}-{settings.worker_web_port}",
        topic_partitions=settings.partitions,
        topic_replication_factor=1,
        table_standby_replicas=0,
        processing_guarantee="at_least_once",
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=min(3.0, settings.session_timeout_s / 4),
        web_port=settings.worker_web_port,
        web_tables_enabled=False,
        web_router_enabled=False,
        producer_max_request_size=4 * 1024 * 1024,
        consumer_max_fetch_size=4 * 1024 * 1024,
    )
    setup_prometheus_sensors(app, name_prefix="riskloop")  # names independent of app id
    agents.register(app, settings, ruleset, topics.declare(app, settings), origin)
    return app
