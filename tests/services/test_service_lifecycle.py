"""Process lifecycle of riskloop.services: nothing started is ever left running."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from riskloop.services import (
    Service,
    ServiceError,
    ServiceGroup,
    ensure_tool,
    free_port,
    start_prometheus,
    start_redis,
    start_tansu,
    wait_port,
)

READY_SCRIPT = "sleep 300 & echo ready; sleep 300"


def alive(pid: int) -> bool:
    """True if ``pid`` runs (a zombie waiting for a reaper counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def group_members(pgid: int) -> list[int]:
    """Live pids whose process group is ``pgid``."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def shell_service(workdir: Path, script: str, name: str = "sh", ready_s: float = 10) -> Service:
    """A service running ``sh -c script``, ready once its log says ``ready``."""
    return Service(
        name=name,
        argv=["sh", "-c", script],
        port=0,
        url="",
        workdir=workdir,
        log_path=workdir / f"{name}.log",
        probe=lambda s: "ready" in s.log_path.read_text(),
        ready_timeout_s=ready_s,
    )


def test_group_exit_stops_every_process_of_every_service(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    with ServiceGroup(tmp_path) as group:
        first = group.add(shell_service(group.workdir("a"), READY_SCRIPT).launch())
        second = group.add(shell_service(group.workdir("b"), READY_SCRIPT).launch())
        pids = [p for s in (first, second) for p in group_members(s.pid or -1)]
        assert len(pids) >= 4  # each: the shell and its background sleep (at least)
    assert [p for p in pids if alive(p)] == []
    assert "ready" not in capfd.readouterr().out  # service output goes to its log only
    assert (tmp_path / "a" / "sh.log").read_text().strip() == "ready"


def test_group_stops_newest_first_on_keyboard_interrupt(tmp_path: Path) -> None:
    order = tmp_path / "order"
    pids = []
    with pytest.raises(KeyboardInterrupt), ServiceGroup(tmp_path) as group:
        for name in ("first", "second", "third"):
            script = f"trap 'echo {name} >> {order}; exit 0' TERM; echo ready; "
            script += "while :; do sleep 0.1; done"
            service = shell_service(group.workdir(name), script, name)
            pids.append(group.add(service.launch()).pid)
        raise KeyboardInterrupt
    assert order.read_text().split() == ["third", "second", "first"]
    assert [p for p in pids if p and alive(p)] == []


def test_stop_escalates_to_sigkill_when_term_is_ignored(tmp_path: Path) -> None:
    service = shell_service(tmp_path, "trap '' TERM; echo ready; while :; do sleep 1; done")
    service.launch()
    members = group_members(service.pid or -1)
    started = time.monotonic()
    service.stop(timeout=0.5)
    assert time.monotonic() - started < 5
    assert [p for p in members if alive(p)] == []
    assert service.proc is not None and service.proc.returncode == -9


def test_a_service_that_dies_while_starting_reports_its_log(tmp_path: Path) -> None:
    service = shell_service(tmp_path, "echo 'bind: address already in use'; exit 3")
    with pytest.raises(ServiceError, match="exited with code 3") as info:
        service.launch()
    assert "address already in use" in str(info.value)
    assert not service.running()


def test_a_service_never_ready_is_stopped_and_reported(tmp_path: Path) -> None:
    service = shell_service(tmp_path, "sleep 300 & sleep 300", ready_s=0.5)
    with pytest.raises(ServiceError, match="not ready"):
        service.launch()
    assert service.pid is not None
    assert not alive(service.pid)
    assert group_members(service.pid) == []


def test_services_left_running_are_stopped_when_python_exits(tmp_path: Path) -> None:
    pids = _child_pids_after(tmp_path, READY_SCRIPT, "pass")  # normal exit: the atexit hook
    assert pids and [p for p in pids if alive(p)] == []


def test_services_get_terminated_when_their_parent_is_killed(tmp_path: Path) -> None:
    # The kernel signals the service's own process (real servers are one process each).
    script = "echo ready; exec sleep 300"
    pids = _child_pids_after(tmp_path, script, "os.kill(os.getpid(), signal.SIGKILL)")
    deadline = time.monotonic() + 5
    while [p for p in pids if alive(p)] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pids and [p for p in pids if alive(p)] == []


def _child_pids_after(tmp_path: Path, script: str, ending: str) -> list[int]:
    """Run a Python that launches a service, prints its group's pids, then ``ending``."""
    code = textwrap.dedent(
        f"""
        import os, signal, sys
        from pathlib import Path
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_service_lifecycle import group_members, shell_service
        service = shell_service(Path({str(tmp_path)!r}), {script!r}).launch()
        print(*group_members(service.pid), flush=True)
        {ending}
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.stdout.strip(), done.stderr
    return [int(p) for p in done.stdout.split()]


def test_ensure_tool_names_the_debian_package() -> None:
    path = ensure_tool("sh", "dash")
    assert Path(path).name == "sh" and os.access(path, os.X_OK)
    with pytest.raises(ServiceError, match=r"apt-get install riskloop-missing-pkg"):
        ensure_tool("riskloop-no-such-tool", "riskloop-missing-pkg")


def test_wait_port_waits_for_a_listener_and_times_out_without_one() -> None:
    port = free_port()
    with pytest.raises(TimeoutError, match=str(port)):
        wait_port("127.0.0.1", port, 0.3)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", port))
        listener.listen()
        wait_port("127.0.0.1", port, 2)


def test_a_group_without_a_root_removes_its_temporary_folder(tmp_path: Path) -> None:
    with ServiceGroup() as group:
        service = group.add(shell_service(group.workdir("sh"), READY_SCRIPT).launch())
        assert service.log_path.read_text().strip() == "ready"
    assert not group.root.exists()
    assert service.pid is not None and not alive(service.pid)


@pytest.mark.integration
def test_real_servers_are_gone_after_their_group_exits(tmp_path: Path) -> None:
    with ServiceGroup(tmp_path) as group:
        started = [
            group.add(start_tansu(group.workdir("tansu"))),
            group.add(start_redis(group.workdir("redis"))),
            group.add(start_prometheus(group.workdir("prometheus"), {})),
        ]
        pids = [p for s in started for p in group_members(s.pid or -1)]
        assert len(pids) == 3 and all(alive(p) for p in pids)
        ports = [s.port for s in started]
    assert [p for p in pids if alive(p)] == []
    for port in ports:  # nothing listens any more
        with pytest.raises(TimeoutError):
            wait_port("127.0.0.1", port, 0.2)
