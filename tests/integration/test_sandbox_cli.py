"""`sandbox serve --background` / `stop` as a script uses them, and bad scenarios."""

from __future__ import annotations

import json
import os
import shlex
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import EXAMPLES, run_cli

pytestmark = pytest.mark.integration


def exports(stdout: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in stdout.splitlines():
        assert line.startswith("export "), line
        key, _, value = line.removeprefix("export ").partition("=")
        found[key] = shlex.split(value)[0]
    return found


def test_background_sandbox_serves_a_live_plan_and_stops(tmp_path: Path) -> None:
    pid_file = tmp_path / "sandbox.pid"
    served = run_cli(
        "sandbox", "serve", str(EXAMPLES / "scenario-small.yaml"), "--background", "--pid-file", str(pid_file),
        cwd=tmp_path,
    )  # fmt: skip
    assert served.returncode == 0, served.stderr
    env = exports(served.stdout)
    assert set(env) >= {"AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "KUBECONFIG"}
    assert env["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
    pid = int(pid_file.read_text().split()[0])
    try:
        planned = run_cli("plan", "--cluster", "team", "--region", "eu-west-1", "-o", "json", cwd=tmp_path, env=env)
        assert planned.returncode == 0, planned.stderr
        assert json.loads(planned.stdout)["cluster"]["authenticationMode"] == "CONFIG_MAP"
    finally:
        stopped = run_cli("sandbox", "stop", "--pid-file", str(pid_file), cwd=tmp_path)
    assert stopped.returncode == 0, stopped.stderr
    assert not pid_file.exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_bad_scenario_is_file_line_and_starts_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("schema: aws-auth-migrate/scenario/v1\nclusters:\n  - name: x\n    region: nowhere\n")
    result = run_cli("sandbox", "serve", str(bad), "--background", "--pid-file", "p.pid", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {bad}:")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "p.pid").exists()


def test_a_second_background_sandbox_on_a_live_pid_file_is_refused(tmp_path: Path) -> None:
    pid_file = tmp_path / "sandbox.pid"
    args = ("sandbox", "serve", str(EXAMPLES / "scenario-small.yaml"), "--background", "--pid-file", str(pid_file))
    first = run_cli(*args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    try:
        second = run_cli(*args, cwd=tmp_path)
        assert second.returncode == 2
        assert "still running" in second.stderr
    finally:
        assert run_cli("sandbox", "stop", "--pid-file", str(pid_file), cwd=tmp_path).returncode == 0


@pytest.mark.parametrize(
    "content",
    [
        "{pid}\n",  # the old format: no token, nothing proves the pid is a sandbox
        "{pid}\n" + "0" * 32 + "\nhttp://127.0.0.1:1\n",  # a token nobody answers
        "-1\n" + "0" * 32 + "\nhttp://127.0.0.1:1\n",  # every process
        "0\n" + "0" * 32 + "\nhttp://127.0.0.1:1\n",  # our own process group
        "{pid}\n" + "0" * 32 + "\nhttp://example.com:80\n",
    ],
)
def test_stop_signals_nothing_that_is_not_the_sandbox_of_the_pid_file(tmp_path: Path, content: str) -> None:
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        pid_file = tmp_path / "sandbox.pid"
        pid_file.write_text(content.format(pid=bystander.pid))
        result = run_cli("sandbox", "stop", "--pid-file", str(pid_file), cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr
        assert bystander.poll() is None
        assert pid_file.exists()
    finally:
        bystander.kill()
        bystander.wait()


def test_a_pid_file_names_a_private_token(tmp_path: Path) -> None:
    pid_file = tmp_path / "sandbox.pid"
    served = run_cli(
        "sandbox", "serve", str(EXAMPLES / "scenario-small.yaml"), "--background", "--pid-file", str(pid_file),
        cwd=tmp_path,
    )  # fmt: skip
    assert served.returncode == 0, served.stderr
    try:
        assert stat.S_IMODE(pid_file.stat().st_mode) == 0o600
        pid, token, endpoint = pid_file.read_text().splitlines()
        assert len(token) == 32 and endpoint.startswith("http://127.0.0.1:")
    finally:
        assert run_cli("sandbox", "stop", "--pid-file", str(pid_file), cwd=tmp_path).returncode == 0
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid), 0)
