"""`plan --prefer-access-policies / --accept-narrowing` refuse what cannot work before anything is read: exit 2,
no AWS call."""

from __future__ import annotations

import socket

import pytest

from tests.cli.conftest import EXAMPLES
from tests.cli.test_usage_cli import Cli, aws_env, listener, nobody_called  # noqa: F401

OFFLINE = ("--offline", "--aws-auth-file", str(EXAMPLES / "aws-auth-small.yaml"))


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("--accept-narrowing",), "--accept-narrowing goes with --prefer-access-policies"),
        (("--prefer-access-policies", *OFFLINE), "needs the cluster's RBAC"),
        (("--prefer-access-policies", "--no-rbac"), "needs the cluster's RBAC"),
    ],
)
def test_conversions_without_rbac_are_bad_input_and_call_nothing(
    cli: Cli,
    listener: socket.socket,  # noqa: F811
    args: tuple[str, ...],
    said: str,
) -> None:
    result = cli("plan", "--cluster", "prod", *args, env=aws_env(listener))
    assert result.returncode == 2, result.stderr
    assert said in result.stderr
    assert nobody_called(listener)


def test_an_offline_plan_has_no_rbac_review(cli: Cli, listener: socket.socket) -> None:  # noqa: F811
    result = cli("plan", "--cluster", "prod", *OFFLINE, "-o", "json", env=aws_env(listener))
    assert result.returncode == 0, result.stderr
    assert '"rbacReview"' not in result.stdout
