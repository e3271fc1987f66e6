"""The benchmark's sandbox, in its own process (as EKS is: it must not share the client's interpreter lock).

The parent sends commands over a pipe: the child answers `env` with the client environment, `calls` with
the requests its recorder saw ((service, operation, principal) -> count, cleared on read) and `rss` with
its own peak RSS, and stops on `stop`. The recorder is the one the permission tests use, so the bench
counts what the sandbox was asked, not what the client believes it sent.
"""

from __future__ import annotations

import resource
from collections import Counter
from multiprocessing.connection import Connection


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
                pipe.send(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
            else:
                pipe.send("bye")
                return
