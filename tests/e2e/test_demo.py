"""`riskloop demo` as the README tells a newcomer to run it: one command, a summary, a clean exit.

One demo run (about 70-90 s: the Faust worker alone takes ~30 s to start) is shared by the tests.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from envelope.settings import DEFAULT_RULES_DIR
from replay.backtest import backtest
from replay.simulator import simulate_to_file

pytestmark = [pytest.mark.slow, pytest.mark.integration]

DAYS, SEED = 7, 3
# Scenarios the simulator injects into every week, each caught by one shipped rule.
MUST_FIRE = ("approval-overdue", "repeated-submissions", "hotline-surge", "staff-bulk-access")
URL = r"http://127\.0\.0\.1:(\d+)"


@dataclass
class DemoRun:
    code: int
    out: str
    err: str
    wall_s: float

    def line(self, pattern: str) -> re.Match[str]:
        found = re.search(pattern, self.out, re.MULTILINE)
        assert found, f"no line matching {pattern!r} in the demo's output:\n{self.out}"
        return found


@pytest.fixture(scope="module")
def demo() -> DemoRun:
    argv = [sys.executable, "-m", "riskloop.cli", "demo", "--duration", "5"]
    argv += ["--days", str(DAYS), "--seed", str(SEED)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("RISKLOOP_")}
    started = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600, env=env, check=False)
    run = DemoRun(done.returncode, done.stdout, done.stderr, time.monotonic() - started)
    print(f"demo wall time {run.wall_s:.1f} s\n{run.out}")
    return run


def clue_table(out: str) -> dict[str, int]:
    """Rule (or 'total') -> the total column of the summary table."""
    header = out.index("  rule ")
    rows: dict[str, int] = {}
    for line in out[header:].splitlines()[1:]:
        cells = line.split()
        if not line.startswith("  ") or not cells or not cells[-1].isdigit():
            break
        rows[cells[0]] = int(cells[-1])
    return rows


def test_demo_exits_cleanly_and_removes_its_work_folder(demo: DemoRun) -> None:
    assert demo.code == 0, f"stdout:\n{demo.out}\nstderr:\n{demo.err[-3000:]}"
    work = Path(demo.line(r"^riskloop demo: work folder (\S+)$").group(1))
    assert not work.exists(), f"{work} left behind"
    assert "all stopped" in demo.out


def test_summary_counts_clues_of_every_rule_the_week_triggers(
    demo: DemoRun, tmp_path: Path
) -> None:
    events = tmp_path / "week.jsonl"
    simulate_to_file(events, SEED, days=DAYS)
    warnings = backtest(events, DEFAULT_RULES_DIR, partitions=4).warnings
    fired = {w.rule_id for w in warnings if not w.details.get("shadow")}
    shadow = {w.rule_id for w in warnings if w.details.get("shadow")} - fired
    assert set(MUST_FIRE) <= fired  # the week is meant to trigger them

    rows = clue_table(demo.out)
    for rule in sorted(fired):
        assert rows.get(rule, 0) > 0, f"no clues for {rule} in:\n{demo.out}"
    for rule in sorted(shadow):  # experimental rules are evaluated, never enqueued
        assert rule not in rows, f"shadow rule {rule} raised clues:\n{demo.out}"
    total = rows.pop("total")
    assert total == sum(rows.values())
    assert int(demo.line(r"^clues raised: (\d+)").group(1)) == total
    dead = demo.line(r"^dead letters: (\d+).*")
    assert dead.group(1) == "0", dead.group(0)  # the line names each reason
    sent = int(demo.line(r"sent ([\d,]+) events").group(1).replace(",", ""))
    processed = demo.line(r"worker processed ([\d,]+) events").group(1)
    assert int(processed.replace(",", "")) == sent > 0


def test_summary_prints_where_to_look(demo: DemoRun) -> None:
    api = demo.line(rf"clue API docs\s+{URL}/docs$").group(1)
    assert demo.line(rf"clue queue\s+{URL}/clues\?status=new$").group(1) == api
    assert demo.line(rf"API metrics\s+{URL}/metrics$").group(1) == api
    worker = demo.line(rf"worker metrics\s+{URL}/metrics$").group(1)
    assert worker != api
    claim = r"curl -s -X POST -H 'Authorization: Bearer \S+' "
    curl = demo.line(claim + rf"{URL}/clues/(clue-\w+)/claim$")
    assert curl.group(1) == api


def test_no_process_started_by_the_demo_is_left(demo: DemoRun) -> None:
    listed = demo.line(r"^processes: (.+)$").group(1)
    pids = {name: int(pid) for name, pid in re.findall(r"(\w+) (\d+)", listed)}
    assert set(pids) == {"tansu", "redis", "api", "worker"}
    work = demo.line(r"^riskloop demo: work folder (\S+)$").group(1)
    for name, pid in pids.items():
        assert not _alive_as(pid, name), f"{name} (pid {pid}) still runs after the demo ended"
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue
        assert not cwd.startswith(work), f"pid {proc.name} still runs in {cwd}"


def _alive_as(pid: int, name: str) -> bool:
    """Is ``pid`` still the process the demo started (not a reused pid, not a zombie)?"""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    words = {"tansu": "tansu", "redis": "redis-server", "api": "cli api", "worker": "cli worker"}
    return state != "Z" and words[name] in cmdline
