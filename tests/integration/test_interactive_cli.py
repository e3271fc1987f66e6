"""Interactive apply on a real terminal (a pseudo-terminal): per-step questions and the typed gate."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from migrator.sandbox.scenario import load_scenario
from tests.cli.conftest import EXAMPLES, inherited_env
from tests.integration.conftest import SandboxFactory, client
from tests.integration.test_apply_cli import make_plan, mode_of

pytestmark = pytest.mark.integration


class Terminal:
    """The CLI on a pseudo-terminal: wait for text on the screen, type answers."""

    def __init__(self, command: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.controller, attached = pty.openpty()
        self.process = subprocess.Popen(
            command, cwd=cwd, env=env, stdin=attached, stdout=attached, stderr=attached, close_fds=True
        )
        os.close(attached)
        self.screen = ""

    def wait_for(self, text: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.screen:
            if time.monotonic() > deadline:
                raise AssertionError(f"never saw {text!r}; the screen was:\n{self.screen[-3000:]}")
            ready, _, _ = select.select([self.controller], [], [], 0.1)
            if ready:
                try:
                    self.screen += os.read(self.controller, 65536).decode(errors="replace")
                except OSError:  # the child closed the terminal
                    if self.process.poll() is not None:
                        raise AssertionError(f"exited before {text!r}:\n{self.screen[-3000:]}") from None

    def type(self, answer: str) -> None:
        self.screen = ""  # what comes next is the reaction to this answer
        os.write(self.controller, f"{answer}\r".encode())

    def finish(self, timeout: float = 120) -> int:
        code = self.process.wait(timeout=timeout)
        os.close(self.controller)
        return code


def test_interactive_apply_asks_per_step_and_needs_the_cluster_name_typed_at_a_gate(
    make_sandbox: SandboxFactory, tmp_path: Path
) -> None:
    sandbox = make_sandbox(load_scenario(EXAMPLES / "scenario-small.yaml"))
    plan = make_plan(sandbox, tmp_path, "team", "eu-west-1")
    env = {**inherited_env(), **sandbox.env(), "COLUMNS": "200"}
    command = [sys.executable, "-m", "migrator", "apply", str(plan), "--poll-seconds", "0.2"]

    terminal = Terminal(command, tmp_path, env)
    terminal.wait_for("Run? [y]es")
    terminal.type("y")  # the backup
    terminal.wait_for("Type the cluster name (team)")
    terminal.type("not-the-name")  # a wrong name stops in front of the gate
    assert terminal.finish() == 0
    assert mode_of(sandbox, "team", "eu-west-1") == "CONFIG_MAP"

    terminal = Terminal(command, tmp_path, env)
    terminal.wait_for("Type the cluster name (team)")
    terminal.type("team")
    terminal.wait_for("Run? [y]es")
    terminal.type("y")  # the first principal
    terminal.wait_for("Run? [y]es")
    terminal.type("q")  # quit: the rest waits for the next run
    assert terminal.finish() == 0
    assert mode_of(sandbox, "team", "eu-west-1") == "API_AND_CONFIG_MAP"
    entries = client(sandbox, region="eu-west-1").list_access_entries(clusterName="team")["accessEntries"]
    assert "arn:aws:iam::111122223333:role/Developer" not in entries

    terminal = Terminal(command, tmp_path, env)
    terminal.wait_for("Run? [y]es")
    terminal.type("a")  # all in this phase
    terminal.wait_for("completed")
    assert terminal.finish() == 0
    entries = client(sandbox, region="eu-west-1").list_access_entries(clusterName="team")["accessEntries"]
    assert "arn:aws:iam::111122223333:role/Developer" in entries
