"""The Faust app in a few lines: settings in, app with agents out.

A stop (SIGTERM, Ctrl-C) is bounded by ``RISKLOOP_STOP_TIMEOUT_S``. Faust's own stop waits,
with ``stream_wait_empty``, until every event a stream has taken is acknowledged; the
evaluate agent acknowledges events only at a checkpoint (``streams.state``), and checkpoints
are taken by the agent and by a timer, neither of which runs once the app is stopping, so
that wait never ended: the worker kept its partitions until it was killed. Here the app
first stops the flow of events, lets each stop hook (the evaluate agent's: finish the event
in flight, checkpoint and acknowledge what was applied) run within half the bound, and then
stops the faust way without waiting for events nobody will acknowledge any more: they were
not applied, and the partitions' next owner gets them. Faust then commits what was
acknowledged and the consumer leaves its group, so the partitions move at once. A timer
thread ends the process if all this has not finished within the bound.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
import warnings
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import faust
from faust import transport
from faust.exceptions import AlreadyConfiguredWarning
from faust.sensors.prometheus import setup_prometheus_sensors

from envelope.settings import Settings
from rules import load_rules
from streams import agents, consumer, ruleset_topic, topics

log = logging.getLogger("riskloop.worker")
StopHook = Callable[[float], Awaitable[None]]  # seconds it may take -> done
_deadline: list[threading.Timer] = []


class WorkerApp(faust.App):
    """A faust app whose stop is bounded and runs ``stop_hooks`` once events stop coming."""

    def __init__(
        self,
        *args: Any,
        stop_timeout_s: float = 10.0,
        fetch_max_wait_ms: int = 1500,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.stop_timeout_s = stop_timeout_s
        self.fetch_max_wait_ms = fetch_max_wait_ms  # streams.consumer
        self.stop_hooks: list[StopHook] = []

    async def on_stop(self) -> None:
        arm_stop_deadline(self.stop_timeout_s)
        self._hold_events()
        hooks_until = time.monotonic() + self.stop_timeout_s / 2
        for hook in self.stop_hooks:
            try:
                await asyncio.wait_for(hook(hooks_until - time.monotonic()), self.stop_timeout_s)
            except Exception:  # a stop goes on: what was not acknowledged is redelivered
                log.exception("stop: a stop hook failed")
        with warnings.catch_warnings():  # read where it is used, at the time of use
            warnings.simplefilter("ignore", AlreadyConfiguredWarning)
            self.conf.stream_wait_empty = False
        await super().on_stop()

    def _new_transport(self) -> Any:
        """Faust's aiokafka transport, its consumer fetching with ``fetch_max_wait_ms``."""
        if not issubclass(consumer.Transport, transport.by_url(self.conf.broker_consumer[0])):
            return super()._new_transport()  # another transport (memory://, tests)
        return consumer.Transport(self.conf.broker_consumer, self)

    def _hold_events(self) -> None:
        """No more events into the agents: what faust's own stop does first, in one step
        (no await in between, so no stream sees an event while the flow is suspended)."""
        consumer = self._consumer
        if consumer is None:
            return
        consumer.stop_flow()
        self.flow_control.suspend()
        self.flow_control.clear()


def arm_stop_deadline(seconds: float) -> None:
    """The last resort: end the process ``seconds`` from the first call, whatever still
    runs (exit code 1). A thread, so a stuck event loop cannot hold it back."""
    if _deadline:
        return

    def expire() -> None:
        os.write(2, f"riskloop worker: not stopped after {seconds:g} s; exiting\n".encode())
        os._exit(1)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    _deadline.append(timer)
    timer.start()


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
    app = WorkerApp(
        settings.app_id,
        stop_timeout_s=settings.stop_timeout_s,
        fetch_max_wait_ms=settings.fetch_max_wait_ms,
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
        producer_max_request_size=agents.STATE_RECORD_MAX_BYTES,
        consumer_max_fetch_size=4 * 1024 * 1024,
    )
    setup_prometheus_sensors(app, name_prefix="riskloop")  # names independent of app id
    agents.register(app, settings, ruleset, topics.declare(app, settings), origin)
    return app
