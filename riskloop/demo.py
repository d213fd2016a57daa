"""``riskloop demo``: the whole loop on one machine, in one command.

It starts Tansu (an embedded Kafka-compatible broker), a private Redis, the stream worker and
the clue API on free loopback ports in a temporary work folder; simulates a city's week of
events, replays it at full speed, waits until the worker has processed every event and the
clue sink has caught up, then prints the clues raised and where to look. Everything it started
is stopped when it ends: after ``--duration`` seconds, on Ctrl-C, on SIGTERM or on an error.
The work folder (service logs, the simulated events) is removed at the end, unless something
went wrong: then it is kept and its path printed.

>>> print(format_clue_table({("hotline-surge", "high"): 4, ("staff-bulk-access", "critical"): 6}))
  rule               critical   high  total
  hotline-surge             -      4      4
  staff-bulk-access         6      -      6
  total                     6      4     10
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from clues.model import NEW
from clues.page import supervisor_link
from envelope.errors import UserError
from envelope.settings import Settings
from envelope.topics import TOPIC_DEADLETTER
from riskloop.demo_report import WorkerCounts, format_clue_table, worker_counts
from riskloop.services import (
    Service,
    ServiceError,
    ServiceGroup,
    start_api,
    start_redis,
    start_tansu,
    start_worker,
)
from riskloop.topic_admin import create_topics, riskloop_topics

if TYPE_CHECKING:
    from clues.store import ClueStore
    from replay.publish import PublishReport

WORKER_READY_TIMEOUT_S = 180.0
API_READY_TIMEOUT_S = 60.0
SINK_STABLE_S = 3.0
SINK_TIMEOUT_S = 120.0
PROGRESS_EVERY_S = 5.0
# API tokens for this run (the API stores them hashed at start): the dispatch centre, alice.
DEMO_TOKENS = {
    "centre": "demo-centre-" + secrets.token_hex(8),
    "alice": "demo-alice-" + secrets.token_hex(8),
    "supervisor": "demo-supervisor-" + secrets.token_hex(8),
}
STALL_S = 90.0
_PACKAGE_ROOT = Path(__file__).resolve().parent.parent


class DemoError(UserError, RuntimeError):
    """The demo cannot go on; the message says what happened and which log to read."""


@dataclass(frozen=True)
class Stack:
    """The running demo: its services and the URLs a user opens."""

    root: Path
    settings: Settings
    broker: Service
    redis: Service
    worker: Service
    api: Service

    @property
    def worker_url(self) -> str:
        return f"http://127.0.0.1:{self.worker.port}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api.port}"


@dataclass(frozen=True)
class Clues:
    """What the clue store holds once the pipeline is quiet."""

    by_rule: Counter[tuple[str, str]]  # (rule id, severity) -> clues
    top_new_id: str | None  # the first clue of the work queue, for the curl example


def say(text: str = "") -> None:
    """One progress line on stdout, flushed at once (a newcomer is watching)."""
    print(text, flush=True)


# --- entry point ------------------------------------------------------------------------------


def run_demo(duration_s: float | None, days: int, seed: int) -> int:
    """Run the demo; 0 when it ran and stopped cleanly (also on Ctrl-C once it is up)."""
    if days < 1:
        print(f"riskloop demo: --days {days}: simulate at least 1 day", file=sys.stderr)
        return 2
    if duration_s is not None and duration_s < 0:
        print(f"riskloop demo: --duration {duration_s}: must be >= 0 s", file=sys.stderr)
        return 2
    root = Path(tempfile.mkdtemp(prefix="riskloop-demo-"))
    say(f"riskloop demo: work folder {root}")
    with _sigterm_interrupts():
        try:
            code = _run_in_group(root, duration_s, days, seed)
        except KeyboardInterrupt:
            say("interrupted: everything the demo started is stopped")
            code = 130
        except (DemoError, ServiceError, OSError) as exc:
            print(f"riskloop demo: {exc}", file=sys.stderr, flush=True)
            code = 1
    if code == 1:
        say(f"logs kept in {root}")
    else:
        shutil.rmtree(root, ignore_errors=True)
    return code


def _run_in_group(root: Path, duration_s: float | None, days: int, seed: int) -> int:
    group = ServiceGroup(root)
    try:
        started = time.monotonic()
        stack = _start(group, root, Settings.from_env())
        sent, labels = _replay(stack, days, seed)
        counts = _await_worker(stack, sent)
        clues = asyncio.run(_await_sink(stack))
        say(f"everything processed {time.monotonic() - started:.0f} s after start")
        _print_summary(stack, counts, clues, labels)
        return _stay_up(group, duration_s)
    finally:
        say("stopping the worker, the API, Redis and the broker …")
        t0 = time.monotonic()
        with _signals_ignored():
            group.stop()
        say(f"  all stopped ({time.monotonic() - t0:.1f} s)")


# --- starting ---------------------------------------------------------------------------------


def _start(group: ServiceGroup, root: Path, settings: Settings) -> Stack:
    """Broker, Redis, topics, API and worker, each added to ``group`` as soon as it runs."""
    broker = _started(group, "the Tansu broker", lambda: start_tansu(group.workdir("tansu")))
    redis = _started(
        group, "Redis (append-only file on)", lambda: start_redis(group.workdir("redis"))
    )
    topics = riskloop_topics(settings.partitions, settings.app_id)
    asyncio.run(create_topics(broker.bootstrap, topics))
    say(f"created topics {', '.join(topics)} ({settings.partitions} partitions each)")
    env = _child_env(broker, redis)
    api = _started(
        group, "the clue API", lambda: start_api(group.workdir("api"), env, API_READY_TIMEOUT_S)
    )
    worker = _started(
        group,
        "the stream worker (about 30 s)",
        lambda: start_worker(group.workdir("worker"), env, WORKER_READY_TIMEOUT_S),
    )
    pids = ", ".join(f"{s.name} {s.pid}" for s in (broker, redis, api, worker))
    say(f"processes: {pids}")
    return Stack(root, settings, broker, redis, worker, api)


def _started(group: ServiceGroup, what: str, start: Callable[[], Service]) -> Service:
    """Start one service, add it to ``group`` and say where it listens and how long it took."""
    say(f"starting {what} …")
    t0 = time.monotonic()
    service = group.add(start())
    say(f"  ready on {service.url} ({time.monotonic() - t0:.1f} s)")
    return service


def _child_env(broker: Service, redis: Service) -> dict[str, str]:
    """The settings the worker and the API run with (each picks its own free port)."""
    pythonpath = [str(_PACKAGE_ROOT), os.environ.get("PYTHONPATH", "")]
    return {
        "RISKLOOP_BROKER": broker.url,
        "RISKLOOP_REDIS_URL": redis.url,
        "RISKLOOP_API_HOST": "127.0.0.1",
        "RISKLOOP_API_BOOTSTRAP_TOKENS": f"{DEMO_TOKENS['centre']}=centre:supervisor:*:* "
        f"{DEMO_TOKENS['alice']}=alice:inspector:*:* "
        f"{DEMO_TOKENS['supervisor']}=sophie:supervisor:*:*",
        # a source checkout runs too: the children's working folder is not the repository
        "PYTHONPATH": os.pathsep.join(p for p in pythonpath if p),
        "PYTHONUNBUFFERED": "1",
        # one pseudonym key for the worker and the API (the identity view opens what the
        # worker sealed): the one set, else one made for this demo (a key file set wins)
        "RISKLOOP_PSEUDONYM_KEY": os.environ.get("RISKLOOP_PSEUDONYM_KEY") or secrets.token_hex(32),
        # the simulated week is dated March 2026: a worker keeping the default 400 days of
        # state would refuse it as too old from April 2027 on
        "RISKLOOP_STATE_RETENTION_DAYS": "36500",
    }


# --- replaying --------------------------------------------------------------------------------


def _replay(stack: Stack, days: int, seed: int) -> tuple[int, int]:
    """Simulate ``days`` of events and publish them at full speed; (events sent, labels)."""
    from replay.publish import PublishError
    from replay.simulator import simulate_to_file

    path = stack.root / "events" / f"city-{days}d-seed{seed}.jsonl"
    say(f"simulating {days} days of city events (seed {seed}) …")
    n_events, n_labels = simulate_to_file(path, seed, days=days)
    say(f"  {n_events:,} events, {n_labels} injected risk scenarios")
    say("replaying them to the broker at full speed:")
    try:
        report = asyncio.run(_publish(path, stack))
    except PublishError as exc:
        raise DemoError(str(exc)) from None
    if report.interrupted:
        raise KeyboardInterrupt
    say(f"  sent {report.sent:,} events in {report.elapsed_s:.1f} s ({report.events_per_s:,.0f}/s)")
    if report.failed or report.rejected:
        say(f"  {report.failed} not delivered, {report.rejected} rejected ({report.first_error})")
    return report.sent, n_labels


async def _publish(path: Path, stack: Stack) -> PublishReport:
    """publish() at max speed; SIGTERM stops it cleanly like Ctrl-C does."""
    from replay.publish import publish

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    previous = signal.getsignal(signal.SIGTERM)
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    try:
        return await publish(
            path,
            stack.broker.bootstrap,
            max_speed=True,
            progress=True,
            partition_field=stack.settings.partition_field,
            stop=stop,
        )
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
        signal.signal(signal.SIGTERM, previous)


# --- waiting for the pipeline -----------------------------------------------------------------


def _read_worker(stack: Stack) -> WorkerCounts:
    with urllib.request.urlopen(f"{stack.worker_url}/metrics", timeout=5) as resp:
        return worker_counts(resp.read().decode())


def _await_worker(stack: Stack, expected: int) -> WorkerCounts:
    """Poll the worker's /metrics until it has handled ``expected`` events.

    Gives up, naming the worker's log, when an agent crashed, when nothing moved for
    ``STALL_S`` seconds, or after an overall timeout that grows with the event count.
    """
    timeout_s = 180.0 + expected / 500
    say(f"waiting for the worker to process {expected:,} events …")
    started = last_said = last_moved = time.monotonic()
    last = -1
    while True:
        _check_alive(stack.worker)
        counts, now = _read_worker(stack), time.monotonic()
        if counts.handled >= expected:
            say(f"  worker processed {counts.handled:,} events in {now - started:.0f} s")
            return counts
        if counts.handled != last:
            last, last_moved = counts.handled, now
        problem = _worker_crash(stack.worker.log_path)
        if problem is None and now - last_moved > STALL_S:
            problem = f"no progress for {STALL_S:.0f} s"
        if problem is None and now - started > timeout_s:
            problem = f"still running after {timeout_s:.0f} s"
        if problem is not None:
            raise DemoError(
                f"the worker handled {counts.handled:,} of {expected:,} events: {problem}; "
                f"its log is {stack.worker.log_path}:\n{stack.worker.log_tail()}"
            )
        if now - last_said >= PROGRESS_EVERY_S:
            say(f"  {counts.handled:,} / {expected:,} events processed")
            last_said = now
        time.sleep(0.5)


def _worker_crash(log_path: Path) -> str | None:
    """The reason Faust gave for restarting a crashed agent, if its log has one."""
    marker = b"Last crash reason: "
    try:
        text = log_path.read_bytes()
    except OSError:
        return None
    at = text.rfind(marker)
    if at < 0:
        return None
    line = text[at + len(marker) :].split(b"\n", 1)[0]
    return "an agent crashed with " + line.decode(errors="replace").strip()


async def _await_sink(stack: Stack) -> Clues:
    """Wait until the clue counts in Redis (and the worker's warning count) hold still."""
    import redis.asyncio as aioredis

    from clues.store import ClueStore

    say("waiting for the clue sink to catch up …")
    client = aioredis.from_url(stack.redis.url, decode_responses=True)
    try:
        store = ClueStore(client)
        deadline = time.monotonic() + SINK_TIMEOUT_S
        last, stable_since = None, time.monotonic()
        while True:
            counts = (await store.counts_by_status(), _read_worker(stack).warnings)
            now = time.monotonic()
            if counts != last:
                last, stable_since = counts, now
            elif now - stable_since >= SINK_STABLE_S:
                return await read_clues(store)
            if now > deadline:
                raise DemoError(f"clue counts still changing after {SINK_TIMEOUT_S:.0f} s")
            await asyncio.sleep(0.5)
    finally:
        await client.aclose()


async def read_clues(store: ClueStore) -> Clues:
    """Clues per (rule id, severity) over the whole store, and the head of the work queue."""
    by_rule: Counter[tuple[str, str]] = Counter()
    cursor: str | None = None
    while True:
        page, cursor = await store.list(None, None, 500, cursor)
        by_rule.update((c.rule_id, c.severity) for c in page)
        if cursor is None:
            break
    head, _ = await store.list(NEW, None, 1)
    return Clues(by_rule, head[0].id if head else None)


def _check_alive(service: Service) -> None:
    if not service.running():
        raise DemoError(
            f"the {service.name} stopped unexpectedly; its log is {service.log_path}:\n"
            + service.log_tail()
        )


# --- the summary ------------------------------------------------------------------------------


def _print_summary(stack: Stack, counts: WorkerCounts, clues: Clues, labels: int) -> None:
    api, worker = stack.api_url, stack.worker_url
    total = sum(clues.by_rule.values())
    say()
    say(f"clues raised: {total} (from {counts.warnings:,} warnings; {labels} scenarios injected)")
    say(format_clue_table(clues.by_rule) if total else "  (none)")
    why = ", ".join(f"{reason} {n}" for reason, n in counts.deadletter_reasons)
    say(
        f"dead letters: {counts.deadletters}{f' ({why})' if why else ''} (events the worker "
        f"could not read go to the {TOPIC_DEADLETTER} topic with the reason)"
    )
    say()
    say("look around:")
    say(f"  clue API docs    {api}/docs")
    say(f"  clue queue       {api}/clues?status=new")
    say(f"  worker metrics   {worker}/metrics")
    say(f"  API metrics      {api}/metrics")
    first = f"{api}/clues/{clues.top_new_id or 'CLUE_ID'}"
    say("dispatch the first clue of the queue as the centre, then claim it as inspector alice:")
    say(f"  curl -s -X POST -H 'Authorization: Bearer {DEMO_TOKENS['centre']}' {first}/dispatch")
    say(f"  curl -s -X POST -H 'Authorization: Bearer {DEMO_TOKENS['alice']}' {first}/claim")
    say(f"  inspector page {api}/ui (sign in with alice's token)")
    say(f"  supervisor overview {supervisor_link(api, DEMO_TOKENS['supervisor'])}")
    say()


# --- staying up and stopping ------------------------------------------------------------------


def _stay_up(group: ServiceGroup, duration_s: float | None) -> int:
    """Keep the stack up for ``duration_s`` (or until Ctrl-C / SIGTERM); 0 unless one died."""
    if duration_s is None:
        say("the demo is up: press Ctrl-C to stop it")
        deadline = float("inf")
    else:
        say(f"the demo stays up for {duration_s:g} s (--duration), then stops")
        deadline = time.monotonic() + duration_s
    try:
        while time.monotonic() < deadline:
            for service in group.services:
                _check_alive(service)
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
    except KeyboardInterrupt:
        say()
    return 0


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """While the demo runs, SIGTERM stops it the way Ctrl-C does."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _signals_ignored() -> Iterator[None]:
    """A second Ctrl-C must not cut the shutdown short and leave processes behind."""
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
