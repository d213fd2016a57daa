"""The last resort of a stop: a process that has not ended within the bound is ended."""

from __future__ import annotations

import subprocess
import sys

PROGRAM = """
import time
from streams.app import arm_stop_deadline
arm_stop_deadline(0.2)
arm_stop_deadline(60)  # armed once: a second stop does not move the bound
time.sleep(60)  # a stop that hangs
"""


def test_a_stop_that_hangs_ends_the_process_at_the_bound() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert "not stopped after 0.2 s; exiting" in done.stderr
