"""Waiting for another process to reach a point: the condition is an event it leaves behind (a journal
record, a sandbox state), polled; the deadline only turns a run that never gets there into a failure, and is
generous for a loaded 2-core machine."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

DEADLINE = 300.0  # seconds; waits end on their events long before


def wait_for(
    what: str, condition: Callable[[], bool], process: subprocess.Popen[bytes], deadline: float = DEADLINE
) -> None:
    """Until `condition` holds; fails if `process` ends first or the deadline passes."""

    def reached() -> bool:
        if condition():
            return True
        assert process.poll() is None, f"the process ended before {what}"
        return False

    wait_until(what, reached, deadline)


def wait_until(what: str, condition: Callable[[], bool], deadline: float = DEADLINE) -> None:
    """Until `condition` holds (left behind by a process or thread no longer ours to watch); fails only when
    the deadline passes."""
    give_up = time.monotonic() + deadline
    while not condition():
        assert time.monotonic() < give_up, f"gave up waiting for {what}"
        time.sleep(0.01)  # between looks at the condition; the condition, not this, decides when to go on
