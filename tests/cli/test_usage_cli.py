"""`plan --usage-since` refuses what names no window before anything is read: exit 2, no AWS call."""

from __future__ import annotations

import select
import socket
import subprocess
from collections.abc import Callable, Iterator

import pytest

from tests.cli.conftest import EXAMPLES

Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A local port standing in for AWS: a call would leave a connection waiting in its backlog."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock


def aws_env(sock: socket.socket) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{sock.getsockname()[1]}",
        "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


def nobody_called(sock: socket.socket) -> bool:
    readable, _, _ = select.select([sock], [], [], 0)
    return not readable


@pytest.mark.parametrize("value", ["30", "thirty days", "0d", "2026-13-01", "9999-01-01", "30d\n"])
def test_a_bad_usage_since_is_bad_input_and_calls_nothing(cli: Cli, listener: socket.socket, value: str) -> None:
    result = cli("plan", "--cluster", "prod", "--usage-since", value, env=aws_env(listener))
    assert result.returncode == 2, result.stderr
    assert "--usage-since" in result.stderr and "2026-10-01" in result.stderr  # the hint shows what works
    assert result.stdout == ""
    assert nobody_called(listener)


def test_an_offline_plan_refuses_usage_since(cli: Cli, listener: socket.socket) -> None:
    result = cli(
        "plan", "--cluster", "prod", "--offline", "--aws-auth-file", str(EXAMPLES / "aws-auth-small.yaml"),
        "--usage-since", "30d", env=aws_env(listener),
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "--usage-since reads the cluster's authenticator log" in result.stderr
    assert nobody_called(listener)
