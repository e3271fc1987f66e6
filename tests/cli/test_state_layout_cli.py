"""What the S3 state layout refuses before anything is read or written (docs/run-state.md, "Layout"): a cluster's
folder is `<account>/<region>/<name>/`, so a batch with an S3 state needs every cluster's account, and an offline
plan without a region has no folder there; a plan named by its s3:// URL runs in its own folder, and a --state
on the command line that does not hold it is refused. The AWS endpoint is a closed local port: a command that
tried S3 would fail with another error."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli.conftest import EXAMPLES

Cli = Callable[..., subprocess.CompletedProcess[str]]
NOWHERE = {
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # discard: nothing answers
    "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "secret",
    "AWS_MAX_ATTEMPTS": "1",
}
INVENTORY = """\
schema: aws-auth-migrate/inventory/v1
defaults: {region: eu-west-1, target: API}
clusters:
  - {name: alpha, account: "111122223333"}
  - {name: bravo, profile: team-b}
"""
BATCH = [("plan",), ("apply", "--yes"), ("status",), ("rollback", "--yes")]


@pytest.mark.parametrize("command", BATCH, ids=lambda c: c[0])
def test_a_batch_with_an_s3_state_refuses_a_cluster_without_its_account(
    cli: Cli, tmp_path: Path, command: tuple[str, ...]
) -> None:
    (tmp_path / "fleet.yaml").write_text(INVENTORY)
    result = cli("batch", command[0], "fleet.yaml", *command[1:], "--state", "s3://fleet-state/runs", env=NOWHERE)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "fleet.yaml:5: cluster 'bravo' names no account" in result.stderr, result.stderr
    assert "<account>/<region>/<name>" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fleet.yaml"]


def test_an_offline_plan_without_a_region_is_refused_by_an_s3_state(cli: Cli, tmp_path: Path) -> None:
    args = ("plan", "--cluster", "prod", "--offline", "--aws-auth-file", str(EXAMPLES / "aws-auth-small.yaml"))
    result = cli(*args, "--state", "s3://fleet-state/runs", env=NOWHERE)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "names no region" in result.stderr and "--region" in result.stderr, result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", [("status",), ("show", "--iam-policy"), ("export", "--format", "terraform")])
def test_a_plan_named_by_its_url_with_another_state_on_the_command_line_is_refused(
    cli: Cli, tmp_path: Path, command: tuple[str, ...]
) -> None:
    plan = "s3://fleet-state/runs/111122223333/eu-west-1/prod/8d4bbe3e8989.plan.yaml"
    for state in ("s3://fleet-state/other", "s3://fleet-state/ru", "plans"):
        result = cli(command[0], plan, *command[1:], "--state", state, env=NOWHERE)
        assert result.returncode == 2, result.stdout + result.stderr
        assert f"{plan}: not in the state {state}" in result.stderr, result.stderr
    assert list(tmp_path.iterdir()) == []
