"""The benchmark's sandbox, in its own process (as EKS is: it must not share the client's interpreter lock).

The parent sends commands over a pipe: the child answers `env` with the client environment, `calls` with
the requests its recorder saw ((service, operation, principal) -> count, cleared on read) and `rss` with
its own peak RSS, and stops on `stop`. The recorder is the one the permission tests use, so the bench
counts what the sandbox was asked, not what the client believes it sent.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path


def serve(scenario_text: str, pipe: Connection) -> None:
    from migrator.sandbox.scenario import parse_scenario
    from migrator.sandbox.server import Sandbox

    with Sandbox(parse_scenario(scenario_text, "bench-scenario.yaml")) as sandbox:
        pipe.send(sandbox.env())
        while True:
            command = pipe.recv()
            if command == "calls":
                calls = Counter((c.service, c.operation, c.principal_arn) for c in sandbox.calls())
                sandbox.clear_calls()
                pipe.send(dict(calls))
            elif command == "rss":
                pipe.send(peak_rss_kb())
            else:
                pipe.send("bye")
                return


def peak_rss_kb() -> int:
    """This process's own peak resident set size, in KiB. Linux's VmHWM belongs to the process's memory map,
    which exec replaces; `ru_maxrss` is not: it keeps the high-water mark of the map before exec, and a child
    started by fork or vfork (subprocess, multiprocessing's spawn) borrowed its parent's, so a child reported
    a large parent's peak as its own. `ru_maxrss` only where /proc is missing."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


@contextmanager
def sandbox_process(text: str, target: Callable[[str, Connection], None] = serve) -> Iterator[Connection]:
    """A sandbox in a child process (`target`: `serve`, or a variant answering more commands); this process's
    environment points boto3 and kubernetes at it while the block runs."""
    parent, child = multiprocessing.Pipe()
    process = multiprocessing.get_context("spawn").Process(target=target, args=(text, child), daemon=True)
    process.start()
    saved = dict(os.environ)
    try:
        os.environ.update(parent.recv())
        yield parent
    finally:
        os.environ.clear()
        os.environ.update(saved)
        parent.send("stop")
        parent.recv()
        process.join(timeout=60)
